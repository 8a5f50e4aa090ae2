"""Moderation's words to members (sanction and appeal DMs) and to staff (approval alerts)."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "moderation.warned": {
        "en": "You have been warned: {reason}",
        "es": "Has recibido una advertencia: {reason}",
        "de": "Du wurdest verwarnt: {reason}",
        "fr": "Tu as reçu un avertissement : {reason}",
        "pt": "Você recebeu uma advertência: {reason}",
    },
    "moderation.timed_out": {
        "en": "You have been timed out for {minutes} min: {reason}",
        "es": "Has sido silenciado durante {minutes} min: {reason}",
        "de": "Du wurdest für {minutes} Min. stummgeschaltet: {reason}",
        "fr": "Tu as été exclu temporairement pendant {minutes} min : {reason}",
        "pt": "Você foi silenciado por {minutes} min: {reason}",
    },
    "moderation.kicked": {
        "en": "You are being kicked: {reason}",
        "es": "Vas a ser expulsado: {reason}",
        "de": "Du wirst vom Server geworfen: {reason}",
        "fr": "Tu vas être expulsé : {reason}",
        "pt": "Você está sendo expulso: {reason}",
    },
    "moderation.banned_permanently": {
        "en": "You are being banned permanently: {reason}",
        "es": "Vas a ser baneado de forma permanente: {reason}",
        "de": "Du wirst dauerhaft gebannt: {reason}",
        "fr": "Tu vas être banni définitivement : {reason}",
        "pt": "Você está sendo banido permanentemente: {reason}",
    },
    "moderation.banned_for": {
        "en": "You are being banned for {minutes} min: {reason}",
        "es": "Vas a ser baneado durante {minutes} min: {reason}",
        "de": "Du wirst für {minutes} Min. gebannt: {reason}",
        "fr": "Tu vas être banni pendant {minutes} min : {reason}",
        "pt": "Você está sendo banido por {minutes} min: {reason}",
    },
    "moderation.appeal_granted": {
        "en": "Your appeal was granted: the sanction has been lifted.",
        "es": "Tu apelación fue aceptada: la sanción se ha retirado.",
        "de": "Deinem Einspruch wurde stattgegeben: die Sanktion wurde aufgehoben.",
        "fr": "Ton appel a été accepté : la sanction a été levée.",
        "pt": "Seu recurso foi aceito: a punição foi retirada.",
    },
    "moderation.appeal_denied": {
        "en": "Your appeal was reviewed and denied.",
        "es": "Tu apelación fue revisada y rechazada.",
        "de": "Dein Einspruch wurde geprüft und abgelehnt.",
        "fr": "Ton appel a été examiné et rejeté.",
        "pt": "Seu recurso foi analisado e negado.",
    },
    "moderation.appeal_button": {
        "en": "Appeal",
        "es": "Apelar",
        "de": "Einspruch",
        "fr": "Faire appel",
        "pt": "Recorrer",
    },
    "moderation.approval_pending_alert": {
        "en": (
            "Approval pending for {minutes} min: {action} for {member} ({reason}); id {approval_id}"
        ),
        "es": (
            "Aprobación pendiente desde hace {minutes} min: {action} para {member} ({reason}); "
            "id {approval_id}"
        ),
        "de": (
            "Freigabe seit {minutes} Min. offen: {action} für {member} ({reason}); ID {approval_id}"
        ),
        "fr": (
            "Approbation en attente depuis {minutes} min : {action} pour {member} ({reason}) ; "
            "id {approval_id}"
        ),
        "pt": (
            "Aprovação pendente há {minutes} min: {action} para {member} ({reason}); "
            "id {approval_id}"
        ),
    },
}
