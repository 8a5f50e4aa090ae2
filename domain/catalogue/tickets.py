"""What support tickets say to members and staff, in the server's language."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "ticket.welcome.title": {
        "en": "Ticket #{number}: {subject}",
        "es": "Ticket n.º {number}: {subject}",
        "de": "Ticket Nr. {number}: {subject}",
        "fr": "Ticket n° {number} : {subject}",
        "pt": "Ticket n.º {number}: {subject}",
    },
    "ticket.welcome.body": {
        "en": "{member}, thanks for reaching out. {staff} will answer here as soon as they can. "
        "Tell us everything that helps; the ticket closes with the button below when it is solved.",
        "es": "{member}, gracias por escribirnos. {staff} te responderá aquí lo antes posible. "
        "Cuéntanos todo lo que ayude; el ticket se cierra con el botón de abajo "
        "cuando esté resuelto.",
        "de": "{member}, danke für deine Anfrage. {staff} antwortet hier, so bald es geht. "
        "Schreib alles, was hilft; mit dem Knopf unten wird das Ticket geschlossen, "
        "wenn es gelöst ist.",
        "fr": "{member}, merci de nous avoir contactés. {staff} vous répondra ici "
        "dès que possible. "
        "Dites-nous tout ce qui peut aider ; le bouton ci-dessous ferme le ticket une fois résolu.",
        "pt": "{member}, obrigado por nos contactar. {staff} responderá aqui assim que puder. "
        "Conte tudo o que ajudar; o botão abaixo fecha o ticket quando estiver resolvido.",
    },
    "ticket.staff": {
        "en": "Staff",
        "es": "El equipo",
        "de": "Das Team",
        "fr": "L'équipe",
        "pt": "A equipa",
    },
    "ticket.button.open": {
        "en": "Open a ticket",
        "es": "Abrir un ticket",
        "de": "Ticket öffnen",
        "fr": "Ouvrir un ticket",
        "pt": "Abrir um ticket",
    },
    "ticket.button.claim": {
        "en": "Claim",
        "es": "Atender",
        "de": "Übernehmen",
        "fr": "Prendre en charge",
        "pt": "Assumir",
    },
    "ticket.button.close": {
        "en": "Close",
        "es": "Cerrar",
        "de": "Schließen",
        "fr": "Fermer",
        "pt": "Fechar",
    },
    "ticket.button.reopen": {
        "en": "Reopen",
        "es": "Reabrir",
        "de": "Wieder öffnen",
        "fr": "Rouvrir",
        "pt": "Reabrir",
    },
    "ticket.panel.title": {
        "en": "Need help?",
        "es": "¿Necesitas ayuda?",
        "de": "Brauchst du Hilfe?",
        "fr": "Besoin d'aide ?",
        "pt": "Precisa de ajuda?",
    },
    "ticket.panel.body": {
        "en": "Press the button to open a private ticket with our staff.",
        "es": "Pulsa el botón para abrir un ticket privado con nuestro equipo.",
        "de": "Drück den Knopf, um ein privates Ticket mit unserem Team zu öffnen.",
        "fr": "Appuyez sur le bouton pour ouvrir un ticket privé avec notre équipe.",
        "pt": "Carregue no botão para abrir um ticket privado com a nossa equipa.",
    },
    "ticket.opened": {
        "en": "Your ticket #{number} is open: {channel}",
        "es": "Tu ticket n.º {number} está abierto: {channel}",
        "de": "Dein Ticket Nr. {number} ist offen: {channel}",
        "fr": "Votre ticket n° {number} est ouvert : {channel}",
        "pt": "O seu ticket n.º {number} está aberto: {channel}",
    },
    "ticket.opening": {
        "en": "Your ticket #{number} is being opened; it appears in a moment.",
        "es": "Tu ticket n.º {number} se está abriendo; aparecerá en un momento.",
        "de": "Dein Ticket Nr. {number} wird geöffnet; es erscheint gleich.",
        "fr": "Votre ticket n° {number} s'ouvre ; il apparaît dans un instant.",
        "pt": "O seu ticket n.º {number} está a abrir; aparece dentro de momentos.",
    },
    "ticket.refused.limit": {
        "en": "You already have {count} open ticket(s), the most this server allows ({limit}). "
        "Please continue in your open ticket, or close it first.",
        "es": "Ya tienes {count} ticket(s) abierto(s), el máximo de este servidor ({limit}). "
        "Continúa en tu ticket abierto o ciérralo primero.",
        "de": "Du hast schon {count} offene(s) Ticket(s), so viele wie dieser Server erlaubt "
        "({limit}). Schreib bitte in deinem offenen Ticket weiter oder schließ es zuerst.",
        "fr": "Vous avez déjà {count} ticket(s) ouvert(s), le maximum sur ce serveur ({limit}). "
        "Continuez dans votre ticket ouvert ou fermez-le d'abord.",
        "pt": "Já tem {count} ticket(s) aberto(s), o máximo neste servidor ({limit}). "
        "Continue no seu ticket aberto ou feche-o primeiro.",
    },
    "ticket.refused.disabled": {
        "en": "Tickets are turned off on this server.",
        "es": "Los tickets están desactivados en este servidor.",
        "de": "Tickets sind auf diesem Server ausgeschaltet.",
        "fr": "Les tickets sont désactivés sur ce serveur.",
        "pt": "Os tickets estão desativados neste servidor.",
    },
    "ticket.refused.not_staff": {
        "en": "Only the support staff can do that.",
        "es": "Solo el equipo de soporte puede hacer eso.",
        "de": "Das kann nur das Support-Team.",
        "fr": "Seule l'équipe de support peut faire cela.",
        "pt": "Só a equipa de suporte pode fazer isso.",
    },
    "ticket.refused.not_member": {
        "en": "Only the member who opened the ticket can rate it.",
        "es": "Solo quien abrió el ticket puede valorarlo.",
        "de": "Nur wer das Ticket geöffnet hat, kann es bewerten.",
        "fr": "Seul le membre qui a ouvert le ticket peut le noter.",
        "pt": "Só quem abriu o ticket o pode avaliar.",
    },
    "ticket.refused.not_closed": {
        "en": "The ticket is still open; it can be rated once it is closed.",
        "es": "El ticket sigue abierto; se puede valorar cuando se cierre.",
        "de": "Das Ticket ist noch offen; bewerten geht, sobald es geschlossen ist.",
        "fr": "Le ticket est encore ouvert ; il pourra être noté une fois fermé.",
        "pt": "O ticket ainda está aberto; pode ser avaliado quando fechar.",
    },
    "ticket.refused.rating": {
        "en": "A rating is a number from 1 to 5.",
        "es": "La valoración es un número del 1 al 5.",
        "de": "Eine Bewertung ist eine Zahl von 1 bis 5.",
        "fr": "Une note est un nombre de 1 à 5.",
        "pt": "A avaliação é um número de 1 a 5.",
    },
    "ticket.refused.closed": {
        "en": "This ticket is closed.",
        "es": "Este ticket está cerrado.",
        "de": "Dieses Ticket ist geschlossen.",
        "fr": "Ce ticket est fermé.",
        "pt": "Este ticket está fechado.",
    },
    "ticket.refused.open": {
        "en": "This ticket is already open.",
        "es": "Este ticket ya está abierto.",
        "de": "Dieses Ticket ist schon offen.",
        "fr": "Ce ticket est déjà ouvert.",
        "pt": "Este ticket já está aberto.",
    },
    "ticket.refused.no_target": {
        "en": "Say whom to assign the ticket to.",
        "es": "Indica a quién asignar el ticket.",
        "de": "Sag, wem das Ticket zugewiesen werden soll.",
        "fr": "Indiquez à qui attribuer le ticket.",
        "pt": "Indique a quem atribuir o ticket.",
    },
    "ticket.refused.reason_long": {
        "en": "The reason is too long (at most 1000 characters).",
        "es": "El motivo es demasiado largo (máximo 1000 caracteres).",
        "de": "Die Begründung ist zu lang (höchstens 1000 Zeichen).",
        "fr": "La raison est trop longue (1000 caractères au plus).",
        "pt": "O motivo é demasiado longo (no máximo 1000 caracteres).",
    },
    "ticket.refused.unknown": {
        "en": "That is not something a ticket can do.",
        "es": "Eso no es algo que un ticket pueda hacer.",
        "de": "Das kann ein Ticket nicht.",
        "fr": "Un ticket ne peut pas faire cela.",
        "pt": "Isso não é algo que um ticket possa fazer.",
    },
    "ticket.refused.not_ticket": {
        "en": "Use this inside a ticket (or give its number).",
        "es": "Usa esto dentro de un ticket (o indica su número).",
        "de": "Nutze das in einem Ticket (oder gib seine Nummer an).",
        "fr": "Utilisez ceci dans un ticket (ou donnez son numéro).",
        "pt": "Use isto dentro de um ticket (ou indique o número).",
    },
    "ticket.refused.gone": {
        "en": "Ticket #{number} is no longer running.",
        "es": "El ticket n.º {number} ya no está activo.",
        "de": "Ticket Nr. {number} läuft nicht mehr.",
        "fr": "Le ticket n° {number} n'est plus actif.",
        "pt": "O ticket n.º {number} já não está ativo.",
    },
    "ticket.claimed": {
        "en": "{staff} has taken this ticket and will help you.",
        "es": "{staff} se encarga de este ticket y te ayudará.",
        "de": "{staff} hat dieses Ticket übernommen und hilft dir.",
        "fr": "{staff} a pris ce ticket en charge et va vous aider.",
        "pt": "{staff} assumiu este ticket e vai ajudá-lo.",
    },
    "ticket.assigned": {
        "en": "This ticket is now assigned to {staff}.",
        "es": "Este ticket ahora está asignado a {staff}.",
        "de": "Dieses Ticket ist jetzt {staff} zugewiesen.",
        "fr": "Ce ticket est maintenant attribué à {staff}.",
        "pt": "Este ticket está agora atribuído a {staff}.",
    },
    "ticket.reminder": {
        "en": "{staff}: {member} has been waiting {minutes} minutes for a reply in this ticket.",
        "es": "{staff}: {member} lleva {minutes} minutos esperando respuesta en este ticket.",
        "de": "{staff}: {member} wartet seit {minutes} Minuten auf eine Antwort in diesem Ticket.",
        "fr": "{staff} : {member} attend une réponse depuis {minutes} minutes dans ce ticket.",
        "pt": "{staff}: {member} está há {minutes} minutos à espera de resposta neste ticket.",
    },
    "ticket.warning": {
        "en": "{member}, this ticket closes {when} unless someone writes here. "
        "Reply if you still need help.",
        "es": "{member}, este ticket se cierra {when} si nadie escribe aquí. "
        "Responde si aún necesitas ayuda.",
        "de": "{member}, dieses Ticket schließt {when}, wenn hier niemand schreibt. "
        "Antworte, wenn du noch Hilfe brauchst.",
        "fr": "{member}, ce ticket se ferme {when} si personne n'écrit ici. "
        "Répondez si vous avez encore besoin d'aide.",
        "pt": "{member}, este ticket fecha {when} se ninguém escrever aqui. "
        "Responda se ainda precisar de ajuda.",
    },
    "ticket.closed": {
        "en": "Ticket closed by {by}. Reason: {reason}",
        "es": "Ticket cerrado por {by}. Motivo: {reason}",
        "de": "Ticket geschlossen von {by}. Grund: {reason}",
        "fr": "Ticket fermé par {by}. Raison : {reason}",
        "pt": "Ticket fechado por {by}. Motivo: {reason}",
    },
    "ticket.auto_closed": {
        "en": "Ticket closed after {hours} hours without activity.",
        "es": "Ticket cerrado tras {hours} horas sin actividad.",
        "de": "Ticket nach {hours} Stunden ohne Aktivität geschlossen.",
        "fr": "Ticket fermé après {hours} heures sans activité.",
        "pt": "Ticket fechado após {hours} horas sem atividade.",
    },
    "ticket.reopened": {
        "en": "Ticket reopened by {by}.",
        "es": "Ticket reabierto por {by}.",
        "de": "Ticket wieder geöffnet von {by}.",
        "fr": "Ticket rouvert par {by}.",
        "pt": "Ticket reaberto por {by}.",
    },
    "ticket.rating.ask": {
        "en": "Your ticket #{number} ({subject}) was closed. How did we do? Rate us from 1 to 5.",
        "es": "Tu ticket n.º {number} ({subject}) se cerró. ¿Qué tal lo hicimos? "
        "Valóranos del 1 al 5.",
        "de": "Dein Ticket Nr. {number} ({subject}) wurde geschlossen. Wie waren wir? "
        "Bewerte uns von 1 bis 5.",
        "fr": "Votre ticket n° {number} ({subject}) a été fermé. Comment était-ce ? "
        "Notez-nous de 1 à 5.",
        "pt": "O seu ticket n.º {number} ({subject}) foi fechado. Como correu? "
        "Avalie-nos de 1 a 5.",
    },
    "ticket.rating.thanks": {
        "en": "Thank you for your rating: {stars}",
        "es": "Gracias por tu valoración: {stars}",
        "de": "Danke für deine Bewertung: {stars}",
        "fr": "Merci pour votre note : {stars}",
        "pt": "Obrigado pela sua avaliação: {stars}",
    },
    "ticket.close_modal.title": {
        "en": "Close ticket #{number}",
        "es": "Cerrar el ticket n.º {number}",
        "de": "Ticket Nr. {number} schließen",
        "fr": "Fermer le ticket n° {number}",
        "pt": "Fechar o ticket n.º {number}",
    },
    "ticket.close_modal.reason": {
        "en": "Reason (kept in the transcript)",
        "es": "Motivo (queda en la transcripción)",
        "de": "Grund (steht im Protokoll)",
        "fr": "Raison (conservée dans la transcription)",
        "pt": "Motivo (fica na transcrição)",
    },
    "ticket.done": {
        "en": "Done: ticket #{number} is {status}.",
        "es": "Hecho: el ticket n.º {number} está {status}.",
        "de": "Erledigt: Ticket Nr. {number} ist {status}.",
        "fr": "C'est fait : le ticket n° {number} est {status}.",
        "pt": "Feito: o ticket n.º {number} está {status}.",
    },
    "ticket.log": {
        "en": "Transcript of ticket #{number} ({subject}) from {member}, closed by {by}: {reason}",
        "es": "Transcripción del ticket n.º {number} ({subject}) de {member}, cerrado por {by}: "
        "{reason}",
        "de": "Protokoll von Ticket Nr. {number} ({subject}) von {member}, geschlossen von {by}: "
        "{reason}",
        "fr": "Transcription du ticket n° {number} ({subject}) de {member}, fermé par {by} : "
        "{reason}",
        "pt": "Transcrição do ticket n.º {number} ({subject}) de {member}, fechado por {by}: "
        "{reason}",
    },
}
