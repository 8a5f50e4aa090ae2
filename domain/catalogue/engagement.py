"""Engagement's words: the level-up and badge announcements."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "engagement.level_up": {
        "en": "GG {mention}, you just reached level {level}!",
        "es": "¡GG {mention}, acabas de llegar al nivel {level}!",
        "de": "GG {mention}, du hast gerade Level {level} erreicht!",
        "fr": "GG {mention}, tu viens d'atteindre le niveau {level} !",
        "pt": "GG {mention}, você acabou de chegar ao nível {level}!",
    },
    "engagement.achievement": {
        "en": "🏅 {mention} earned **{badge}**!",
        "es": "🏅 ¡{mention} ha conseguido **{badge}**!",
        "de": "🏅 {mention} hat **{badge}** verdient!",
        "fr": "🏅 {mention} a obtenu **{badge}** !",
        "pt": "🏅 {mention} conquistou **{badge}**!",
    },
    "engagement.achievement_bonus": {
        "en": "🏅 {mention} earned **{badge}** (+{xp} XP)!",
        "es": "🏅 ¡{mention} ha conseguido **{badge}** (+{xp} XP)!",
        "de": "🏅 {mention} hat **{badge}** verdient (+{xp} XP)!",
        "fr": "🏅 {mention} a obtenu **{badge}** (+{xp} XP) !",
        "pt": "🏅 {mention} conquistou **{badge}** (+{xp} XP)!",
    },
}
