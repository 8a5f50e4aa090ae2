"""Announcements' words: the replies of `/announce` to the moderators who manage them."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "announcements.created": {
        "en": "Announcement #{number} scheduled: {when}.",
        "es": "Anuncio n.º {number} programado: {when}.",
        "de": "Ankündigung #{number} geplant: {when}.",
        "fr": "Annonce n° {number} programmée : {when}.",
        "pt": "Anúncio nº {number} agendado: {when}.",
    },
    "announcements.refused": {
        "en": "Nothing was scheduled:\n{problems}",
        "es": "No se ha programado nada:\n{problems}",
        "de": "Es wurde nichts geplant:\n{problems}",
        "fr": "Rien n'a été programmé :\n{problems}",
        "pt": "Nada foi agendado:\n{problems}",
    },
    "announcements.none": {
        "en": "No announcements are scheduled.",
        "es": "No hay anuncios programados.",
        "de": "Es sind keine Ankündigungen geplant.",
        "fr": "Aucune annonce n'est programmée.",
        "pt": "Não há anúncios agendados.",
    },
    "announcements.not_found": {
        "en": "There is no announcement #{number}.",
        "es": "No existe el anuncio n.º {number}.",
        "de": "Es gibt keine Ankündigung #{number}.",
        "fr": "Il n'y a pas d'annonce n° {number}.",
        "pt": "Não existe o anúncio nº {number}.",
    },
    "announcements.deleted": {
        "en": "Announcement #{number} deleted.",
        "es": "Anuncio n.º {number} eliminado.",
        "de": "Ankündigung #{number} gelöscht.",
        "fr": "Annonce n° {number} supprimée.",
        "pt": "Anúncio nº {number} excluído.",
    },
    "announcements.paused": {
        "en": "Announcement #{number} paused.",
        "es": "Anuncio n.º {number} en pausa.",
        "de": "Ankündigung #{number} pausiert.",
        "fr": "Annonce n° {number} mise en pause.",
        "pt": "Anúncio nº {number} pausado.",
    },
    "announcements.resumed": {
        "en": "Announcement #{number} resumed.",
        "es": "Anuncio n.º {number} reanudado.",
        "de": "Ankündigung #{number} fortgesetzt.",
        "fr": "Annonce n° {number} reprise.",
        "pt": "Anúncio nº {number} retomado.",
    },
    "announcements.posting": {
        "en": "Announcement #{number} is being posted now.",
        "es": "El anuncio n.º {number} se está publicando ahora.",
        "de": "Ankündigung #{number} wird jetzt gepostet.",
        "fr": "L'annonce n° {number} est publiée maintenant.",
        "pt": "O anúncio nº {number} está sendo publicado agora.",
    },
    "announcements.paused_label": {
        "en": "paused",
        "es": "en pausa",
        "de": "pausiert",
        "fr": "en pause",
        "pt": "pausado",
    },
}
