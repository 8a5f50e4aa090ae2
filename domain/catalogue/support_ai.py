"""What members see from AI support answers: footers, the ticket suggestion and its button."""

TEXTS: dict[str, dict[str, str]] = {
    "support_ai.answer": {
        "en": "{answer}\n-# AI answer based on the server FAQ; it can be wrong.",
        "es": "{answer}\n-# Respuesta de IA basada en las FAQ del servidor; puede equivocarse.",
        "de": "{answer}\n-# KI-Antwort auf Grundlage der Server-FAQ; sie kann sich irren.",
        "fr": "{answer}\n-# Réponse IA fondée sur la FAQ du serveur ; elle peut se tromper.",
        "pt": "{answer}\n-# Resposta de IA baseada no FAQ do servidor; pode conter erros.",
    },
    "support_ai.translated": {
        "en": "{answer}\n-# FAQ answer, translated by AI.",
        "es": "{answer}\n-# Respuesta de las FAQ, traducida por IA.",
        "de": "{answer}\n-# FAQ-Antwort, von KI übersetzt.",
        "fr": "{answer}\n-# Réponse de la FAQ, traduite par IA.",
        "pt": "{answer}\n-# Resposta do FAQ, traduzida por IA.",
    },
    "support_ai.unknown": {
        "en": "I couldn't find this in the FAQ. A team member can help you in a support ticket.",
        "es": "No encontré esto en las FAQ. Alguien del equipo puede ayudarte en un ticket.",
        "de": "Dazu steht nichts in der FAQ. Das Team hilft dir gern in einem Support-Ticket.",
        "fr": "Je n'ai pas trouvé cela dans la FAQ. L'équipe peut t'aider dans un ticket.",
        "pt": "Não encontrei isso no FAQ. Alguém da equipe pode ajudar você em um ticket.",
    },
    "support_ai.busy": {
        "en": "I can't answer that right now. If you need help, the team can take it in a ticket.",
        "es": "Ahora no puedo responder. Si necesitas ayuda, el equipo te atiende en un ticket.",
        "de": "Darauf kann ich gerade nicht antworten. Brauchst du Hilfe, öffne ein Ticket.",
        "fr": "Je ne peux pas répondre pour l'instant. Besoin d'aide ? Ouvre un ticket.",
        "pt": "Não consigo responder agora. Se precisar de ajuda, a equipe atende em um ticket.",
    },
    "support_ai.open_ticket": {
        "en": "Open a ticket",
        "es": "Abrir un ticket",
        "de": "Ticket öffnen",
        "fr": "Ouvrir un ticket",
        "pt": "Abrir um ticket",
    },
}
