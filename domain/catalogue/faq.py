"""What members see from the FAQ: answers' footers, the feedback buttons, the ticket suggestion."""

TEXTS: dict[str, dict[str, str]] = {
    "faq.answer": {
        "en": "{answer}\n-# Answer from the server FAQ. Did this help?",
        "es": "{answer}\n-# Respuesta de las FAQ del servidor. ¿Te ha servido?",
        "de": "{answer}\n-# Antwort aus der FAQ des Servers. Hat dir das geholfen?",
        "fr": "{answer}\n-# Réponse tirée de la FAQ du serveur. Cela t'a-t-il aidé ?",
        "pt": "{answer}\n-# Resposta do FAQ do servidor. Isso ajudou?",
    },
    "faq.yes": {"en": "Yes", "es": "Sí", "de": "Ja", "fr": "Oui", "pt": "Sim"},
    "faq.no": {"en": "No", "es": "No", "de": "Nein", "fr": "Non", "pt": "Não"},
    "faq.thanks_yes": {
        "en": "Thanks! Glad it helped.",
        "es": "¡Gracias! Nos alegra que te haya servido.",
        "de": "Danke! Schön, dass es geholfen hat.",
        "fr": "Merci ! Content que ça ait aidé.",
        "pt": "Obrigado! Que bom que ajudou.",
    },
    "faq.thanks_no": {
        "en": "Thanks for telling us. If you still need help, open a support ticket.",
        "es": "Gracias por avisar. Si aún necesitas ayuda, abre un ticket de soporte.",
        "de": "Danke für die Rückmeldung. Wenn du noch Hilfe brauchst, öffne ein Support-Ticket.",
        "fr": "Merci de nous le dire. Si tu as encore besoin d'aide, ouvre un ticket de support.",
        "pt": "Obrigado por avisar. Se ainda precisar de ajuda, abra um ticket de suporte.",
    },
    "faq.gone": {
        "en": "This answer is no longer in the FAQ.",
        "es": "Esta respuesta ya no está en las FAQ.",
        "de": "Diese Antwort steht nicht mehr in der FAQ.",
        "fr": "Cette réponse n'est plus dans la FAQ.",
        "pt": "Esta resposta não está mais no FAQ.",
    },
    "faq.suggest_ticket": {
        "en": "I couldn't find this in the FAQ. A team member can help you in a support ticket.",
        "es": "No encontré esto en las FAQ. Alguien del equipo puede ayudarte en un ticket.",
        "de": "Dazu steht nichts in der FAQ. Das Team hilft dir gern in einem Support-Ticket.",
        "fr": "Je n'ai pas trouvé cela dans la FAQ. L'équipe peut t'aider dans un ticket.",
        "pt": "Não encontrei isso no FAQ. Alguém da equipe pode ajudar você em um ticket.",
    },
    "faq.open_ticket": {
        "en": "Open a ticket",
        "es": "Abrir un ticket",
        "de": "Ticket öffnen",
        "fr": "Ouvrir un ticket",
        "pt": "Abrir um ticket",
    },
}
