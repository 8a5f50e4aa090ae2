"""Rank cards for `/rank`: a PNG drawn with Pillow, offline, in a few milliseconds.

Text uses Pillow's bundled scalable font (`ImageFont.load_default(size=...)`), so the card looks the
same on every host and the repository ships no font file. That font covers ASCII only; characters it
lacks (é, Ω, 山) are drawn with the first system font that has them (DejaVu, Noto, ...), and a
character no font has is drawn as a box. Fonts, masks and the static background are cached.
"""

from __future__ import annotations

import io
import logging
import os
import unicodedata
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from PIL import Image, ImageDraw, ImageFont, ImageOps

log = logging.getLogger(__name__)

WIDTH, HEIGHT = 934, 282
BLURPLE = 0x5865F2
DEFAULT_BACKGROUND = 0x1E1F22

_Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
_RGB = tuple[int, int, int]

_SS = 4  # supersampling factor for anti-aliased shapes
_CORNER = 28
_AVATAR_CENTER = (146, 141)
_AVATAR_RADIUS = 92
_RING_GAP, _RING_WIDTH = 5, 6
_CONTENT_X0, _CONTENT_X1 = 284, 890
_TOP_BASELINE, _NAME_BASELINE = 86, 164
_BAR_Y0, _BAR_Y1 = 184, 224
_FOOT_BASELINE = 256
_SIZE_BIG, _SIZE_LABEL, _SIZE_NAME, _SIZE_XP, _SIZE_FOOT = 60, 26, 44, 26, 24
_WHITE: _RGB = (255, 255, 255)
_BLACK: _RGB = (0, 0, 0)
_MAX_AVATAR_PIXELS = 4096 * 4096
_AVATAR_FORMATS = ("PNG", "JPEG", "GIF", "WEBP")
_ELLIPSIS = "\N{HORIZONTAL ELLIPSIS}"
# Discord's default-avatar palette: a member without an avatar keeps a recognisable colour.
_DEFAULT_AVATAR_COLOURS = (0x5865F2, 0x757E8A, 0x3BA55C, 0xFAA61A, 0xED4245, 0xEB459E)
_FALLBACK_FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "/Library/Fonts")
_FALLBACK_FONT_NAMES = (
    "DejaVuSans-Bold.ttf",
    "DejaVuSans.ttf",
    "NotoSans-Bold.ttf",
    "NotoSans-Regular.ttf",
    "LiberationSans-Bold.ttf",
    "NotoSansCJK-Bold.ttc",
    "NotoSansCJK-Regular.ttc",
    "wqy-zenhei.ttc",
    "DroidSansFallbackFull.ttf",
    "Arial Unicode.ttf",
)


@dataclass(frozen=True)
class RankCard:
    """What one card shows; colours are 0xRRGGBB, avatar the raw image bytes from Discord's CDN."""

    display_name: str
    username: str
    avatar: bytes | None
    level: int
    rank: int | None
    xp_into_level: int
    xp_needed: int  # XP between this level and the next; 0 at the maximum level
    total_xp: int
    accent: int = BLURPLE
    background: int | None = None


def render_rank_card(card: RankCard) -> bytes:
    """Draw the card and return PNG bytes (same input, same bytes)."""
    spec = layout(card)
    accent = _rgb(card.accent)
    image = _static_base(accent, _background(card)).copy()
    _paste_avatar(image, card)
    _draw_progress(image, spec["fill_width"], accent)
    draw = ImageDraw.Draw(image)
    for piece in spec["texts"]:
        _draw_text(draw, piece.xy, piece.text, piece.size, piece.fill, bold=piece.bold)
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=3)
    return out.getvalue()


def layout(card: RankCard) -> dict[str, Any]:
    """Where everything goes and which strings are drawn; pure, so tests can read it."""
    accent, ink = _rgb(card.accent), _ink(_background(card))
    top = _top_row(card, accent, ink)
    xp = _right_aligned(_CONTENT_X1, _NAME_BASELINE, _xp_pieces(card, accent, ink))
    name = _fit(_display_name(card), _SIZE_NAME, xp[0].xy[0] - 30 - _CONTENT_X0)
    total = _right_aligned(
        _CONTENT_X1,
        _FOOT_BASELINE,
        [(f"{_num(max(card.total_xp, 0))} XP total", _SIZE_FOOT, ink.muted)],
    )
    handle = _clean(card.username)
    handle = _fit(f"@{handle}", _SIZE_FOOT, total[0].xy[0] - 28 - _CONTENT_X0) if handle else ""
    texts = [*top, TextPiece(name, (_CONTENT_X0, _NAME_BASELINE), _SIZE_NAME, ink.text, True), *xp]
    if handle:
        texts.append(TextPiece(handle, (_CONTENT_X0 + 2, _FOOT_BASELINE), _SIZE_FOOT, ink.muted))
    texts += total
    return {
        "size": (WIDTH, HEIGHT),
        "name": name,
        "username": handle or None,
        "rank": f"#{_num(card.rank)}" if card.rank is not None else None,
        "level": _num(max(card.level, 0)),
        "xp": "".join(piece.text for piece in xp),
        "total": total[0].text,
        "bar": (_CONTENT_X0, _BAR_Y0, _CONTENT_X1, _BAR_Y1),
        "fill_width": round((_CONTENT_X1 - _CONTENT_X0) * _progress_ratio(card)),
        "track": ink.track,
        "accent": accent,
        "texts": texts,
    }


class TextPiece(NamedTuple):
    """One string on the card: left end of its baseline, font size in pixels, colour."""

    text: str
    xy: tuple[int, int]
    size: int
    fill: _RGB
    bold: bool = False  # a 1 px stroke: the bundled font has a regular weight only


# --- layout helpers ------------------------------------------------------------------------------


def _progress_ratio(card: RankCard) -> float:
    if card.xp_needed <= 0:
        return 1.0
    return min(max(card.xp_into_level / card.xp_needed, 0.0), 1.0)


def _top_row(card: RankCard, accent: _RGB, ink: _Ink) -> list[TextPiece]:
    """'RANK #3   LEVEL 12', right-aligned: small labels, big numbers, the level in the accent."""
    for big in (_SIZE_BIG, _SIZE_BIG * 3 // 4, _SIZE_BIG // 2):  # shrink huge numbers to fit
        pieces: list[tuple[str, int, _RGB]] = []
        if card.rank is not None:
            pieces += [("RANK ", _SIZE_LABEL, ink.muted), (f"#{_num(card.rank)}", big, ink.text)]
            pieces.append(("    ", _SIZE_LABEL, ink.muted))
        pieces += [("LEVEL ", _SIZE_LABEL, accent), (_num(max(card.level, 0)), big, accent)]
        placed = _right_aligned(_CONTENT_X1, _TOP_BASELINE, pieces)
        if placed[0].xy[0] >= _CONTENT_X0:
            break
    return placed


def _xp_pieces(card: RankCard, accent: _RGB, ink: _Ink) -> list[tuple[str, int, _RGB]]:
    if card.xp_needed <= 0:
        return [("MAX", _SIZE_XP + 4, accent)]
    return [
        (_num(max(card.xp_into_level, 0)), _SIZE_XP, ink.text),
        (f" / {_num(card.xp_needed)} XP", _SIZE_XP, ink.muted),
    ]


def _display_name(card: RankCard) -> str:
    """The display name, or the (ASCII) username when most of the name would be drawn as boxes."""
    name, username = _clean(card.display_name), _clean(card.username)
    missing = sum(not _drawable(c, _SIZE_NAME) for c in name)
    if username and (not name or missing * 2 >= len(name)):
        return username
    return name or "Unknown member"


def _right_aligned(
    right: int, baseline: int, pieces: list[tuple[str, int, _RGB]]
) -> list[TextPiece]:
    """Lay pieces out left to right so that the last one ends at `right`; drop pure spacing."""
    x = right - sum(_text_width(text, size) for text, size, _ in pieces)
    placed = []
    for text, size, fill in pieces:
        placed.append(TextPiece(text, (x, baseline), size, fill, bold=size >= _SIZE_BIG // 2))
        x += _text_width(text, size)
    return [piece for piece in placed if piece.text.strip()]


def _num(value: int) -> str:
    """1,234 up to a million, then 1.2M / 3.4B, so huge values cannot push text off the card."""
    for limit, suffix in ((10**12, "T"), (10**9, "B"), (10**6, "M")):
        if abs(value) >= limit:
            return f"{value / limit:.1f}".rstrip("0").rstrip(".") + suffix
    return f"{value:,}"


def _clean(text: str) -> str:
    """NFC, minus control and invisible format characters (ZWJ, bidi marks, variation selectors)."""
    text = unicodedata.normalize("NFC", text)
    kept = (
        " " if c.isspace() else c
        for c in text
        if unicodedata.category(c) not in ("Cc", "Cf") and not 0xFE00 <= ord(c) <= 0xFE0F
    )
    return " ".join("".join(kept).split())


def _fit(text: str, size: int, room: int) -> str:
    """The longest prefix that fits in `room` pixels, with an ellipsis when something was cut."""
    if _text_width(text, size) <= room:
        return text
    ellipsis = _ELLIPSIS if _drawable(_ELLIPSIS, size) else "..."
    low, high = 0, len(text)
    while low < high:
        mid = (low + high + 1) // 2
        if _text_width(text[:mid].rstrip() + ellipsis, size) <= room:
            low = mid
        else:
            high = mid - 1
    return text[:low].rstrip() + ellipsis


# --- fonts ---------------------------------------------------------------------------------------


@lru_cache(maxsize=32)
def _fonts(size: int) -> tuple[_Font, ...]:
    """The bundled font first, then system fonts for the characters it lacks."""
    primary = ImageFont.load_default(size=size)
    if not isinstance(primary, ImageFont.FreeTypeFont):
        return (primary,)  # Pillow without FreeType: a fixed-size bitmap font, still legible
    fallbacks: list[_Font] = []
    for path in _fallback_font_paths():
        try:
            fallbacks.append(ImageFont.truetype(str(path), size=size))
        except OSError:
            log.debug("rank card: cannot load font %s", path)
    return (primary, *fallbacks)


@lru_cache(maxsize=1)
def _fallback_font_paths() -> tuple[Path, ...]:
    """Installed fonts from the wish list, in its order (one walk of the font directories)."""
    wanted = set(_FALLBACK_FONT_NAMES)
    found: dict[str, Path] = {}
    for root in _FALLBACK_FONT_DIRS:
        for folder, _, files in os.walk(root):
            for name in wanted.intersection(files):
                found.setdefault(name, Path(folder) / name)
    return tuple(found[name] for name in _FALLBACK_FONT_NAMES if name in found)


@lru_cache(maxsize=8192)
def _has_glyph(font: _Font, char: str) -> bool:
    """A missing glyph renders as the font's .notdef box: compare against an unassigned one."""
    if not isinstance(font, ImageFont.FreeTypeFont):
        return ord(char) < 256  # bitmap fonts encode text as Latin-1
    if char.isspace():
        return True
    return _glyph_print(font, char) != _glyph_print(font, "\U0010fffd")


def _glyph_print(font: ImageFont.FreeTypeFont, char: str) -> tuple[Any, ...]:
    left, top, right, bottom = (int(v) for v in font.getbbox(char))
    glyph = Image.new("L", (max(right - left, 1), max(bottom - top, 1)))
    ImageDraw.Draw(glyph).text((-left, -top), char, font=font, fill=255)
    return (left, top, right, bottom), glyph.tobytes()


def _drawable(char: str, size: int) -> bool:
    return any(_has_glyph(font, char) for font in _fonts(size))


def _runs(text: str, size: int) -> list[tuple[_Font, str]]:
    """Split text into (font, run) pairs; one font for all of it whenever one has every glyph."""
    fonts = _fonts(size)
    for font in fonts:
        if all(_has_glyph(font, c) for c in text):
            return [(font, text)] if text else []
    runs: list[tuple[_Font, str]] = []
    for char in text:
        found = next((f for f in fonts if _has_glyph(f, char)), None)
        # no font has it: FreeType draws the primary font's box, a bitmap font cannot draw it
        chosen, glyph = (found, char) if found is not None else (fonts[0], _missing(fonts[0], char))
        if runs and runs[-1][0] is chosen:
            runs[-1] = (chosen, runs[-1][1] + glyph)
        else:
            runs.append((chosen, glyph))
    return runs


def _missing(font: _Font, char: str) -> str:
    return char if isinstance(font, ImageFont.FreeTypeFont) else "?"


def _text_width(text: str, size: int) -> int:
    return round(sum(font.getlength(run) for font, run in _runs(text, size)))


def _draw_text(
    draw: ImageDraw.ImageDraw,
    xy: tuple[int, int],
    text: str,
    size: int,
    fill: _RGB,
    *,
    bold: bool = False,
) -> None:
    """Draw run by run on a shared baseline (bitmap fonts have no anchors: top-aligned instead)."""
    x, baseline = xy
    stroke = 1 if bold else 0
    for font, run in _runs(text, size):
        if isinstance(font, ImageFont.FreeTypeFont):
            draw.text(
                (x, baseline),
                run,
                font=font,
                fill=fill,
                anchor="ls",
                stroke_width=stroke,
                stroke_fill=fill,
            )
        else:
            draw.text((x, baseline - 11), run, font=font, fill=fill)
        x += round(font.getlength(run))


# --- drawing -------------------------------------------------------------------------------------


def _rgb(value: int) -> _RGB:
    value &= 0xFFFFFF
    return (value >> 16) & 0xFF, (value >> 8) & 0xFF, value & 0xFF


def _background(card: RankCard) -> _RGB:
    return _rgb(DEFAULT_BACKGROUND if card.background is None else card.background)


def _mix(a: _RGB, b: _RGB, t: float) -> _RGB:
    r, g, bl = (round(x + (y - x) * t) for x, y in zip(a, b, strict=True))
    return r, g, bl


class _Ink(NamedTuple):
    text: _RGB
    muted: _RGB
    track: _RGB


def _ink(background: _RGB) -> _Ink:
    """Light text and a lighter track on dark backgrounds; dark ones on light backgrounds."""
    r, g, b = background
    if 0.2126 * r + 0.7152 * g + 0.0722 * b < 150:
        return _Ink(_WHITE, (181, 186, 193), _mix(background, _WHITE, 0.14))
    return _Ink((6, 6, 7), (78, 80, 88), _mix(background, _BLACK, 0.12))


@lru_cache(maxsize=64)
def _circle_mask(diameter: int) -> Image.Image:
    big = Image.new("L", (diameter * _SS, diameter * _SS), 0)
    ImageDraw.Draw(big).ellipse((0, 0, diameter * _SS - 1, diameter * _SS - 1), fill=255)
    return big.resize((diameter, diameter), Image.Resampling.LANCZOS)


@lru_cache(maxsize=64)
def _pill_mask(width: int, height: int) -> Image.Image:
    """A rounded bar: two anti-aliased end caps joined by a rectangle."""
    if width < height:  # too short for two caps: a sliver of the track's rounded start
        return _circle_mask(height).crop((0, 0, width, height))
    mask = Image.new("L", (width, height), 0)
    cap = _circle_mask(height)
    mask.paste(cap, (0, 0))
    mask.paste(cap, (width - height, 0))
    left, right = height // 2, width - height // 2 - 1
    if right >= left:  # at width == height the two caps already make the whole pill
        ImageDraw.Draw(mask).rectangle((left, 0, right, height - 1), fill=255)
    return mask


@lru_cache(maxsize=16)
def _static_base(accent: _RGB, background: _RGB) -> Image.Image:
    """Card, accent glow, avatar ring and empty bar: all that does not depend on the member."""
    card = Image.new("RGBA", (WIDTH, HEIGHT), (*background, 255))
    card.alpha_composite(_glow(accent))
    card.putalpha(_card_shape())
    cx, cy = _AVATAR_CENTER
    outer = _AVATAR_RADIUS + _RING_GAP + _RING_WIDTH
    ring = Image.new("RGBA", (2 * outer, 2 * outer), (*accent, 255))
    card.paste(ring, (cx - outer, cy - outer), _circle_mask(2 * outer))
    gap = _AVATAR_RADIUS + _RING_GAP
    card.paste((*background, 255), (cx - gap, cy - gap, cx + gap, cy + gap), _circle_mask(2 * gap))
    track = Image.new(
        "RGBA", (_CONTENT_X1 - _CONTENT_X0, _BAR_Y1 - _BAR_Y0), (*_ink(background).track, 255)
    )
    card.paste(track, (_CONTENT_X0, _BAR_Y0), _pill_mask(*track.size))
    return card


@lru_cache(maxsize=1)
def _card_shape() -> Image.Image:
    """The card's alpha: opaque with anti-aliased rounded corners (quarters of a circle)."""
    shape = Image.new("L", (WIDTH, HEIGHT), 255)
    corner = _circle_mask(2 * _CORNER)
    r = _CORNER
    for cx, cy in ((0, 0), (r, 0), (0, r), (r, r)):
        quarter = corner.crop((cx, cy, cx + r, cy + r))
        shape.paste(quarter, (cx and WIDTH - r, cy and HEIGHT - r))
    return shape


def _glow(accent: _RGB) -> Image.Image:
    """A soft wash of the accent behind the avatar, fading to the right."""
    fade = Image.linear_gradient("L").rotate(90).transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    fade = fade.resize((WIDTH, HEIGHT))  # 255 left -> 0 right
    fade = fade.point(lambda v: round(v**2 / 255 * 0.22))
    glow = Image.new("RGBA", (WIDTH, HEIGHT), (*accent, 0))
    glow.putalpha(fade)
    return glow


def _draw_progress(image: Image.Image, fill_width: int, accent: _RGB) -> None:
    if fill_width <= 0:
        return
    height = _BAR_Y1 - _BAR_Y0
    strip = _bar_gradient(accent, _CONTENT_X1 - _CONTENT_X0, height).crop(
        (0, 0, fill_width, height)
    )
    image.paste(strip, (_CONTENT_X0, _BAR_Y0), _pill_mask(fill_width, height))


@lru_cache(maxsize=16)
def _bar_gradient(accent: _RGB, width: int, height: int) -> Image.Image:
    """The fill brightens slightly towards its end."""
    ramp = Image.linear_gradient("L").rotate(90).resize((width, height))  # 0 left -> 255 right
    return Image.composite(
        Image.new("RGBA", (width, height), (*_mix(accent, _WHITE, 0.28), 255)),
        Image.new("RGBA", (width, height), (*accent, 255)),
        ramp,
    )


def _paste_avatar(image: Image.Image, card: RankCard) -> None:
    diameter = 2 * _AVATAR_RADIUS
    avatar = _decode_avatar(card.avatar, diameter) or _default_avatar(card, diameter)
    cx, cy = _AVATAR_CENTER
    image.paste(avatar, (cx - _AVATAR_RADIUS, cy - _AVATAR_RADIUS), _circle_mask(diameter))


@lru_cache(maxsize=32)  # members run /rank again and again with the same avatar
def _decode_avatar(data: bytes | None, diameter: int) -> Image.Image | None:
    """The first frame, squared and scaled; None for anything that is not a sane image."""
    if not data:
        return None
    try:
        with Image.open(io.BytesIO(data), formats=_AVATAR_FORMATS) as im:
            if im.width * im.height > _MAX_AVATAR_PIXELS:
                return None
            im.seek(0)
            frame = im.convert("RGBA")
    except Exception:  # any decoder error means "not an avatar we can draw"
        log.debug("rank card: undecodable avatar (%d bytes)", len(data))
        return None
    fitted = ImageOps.fit(frame, (diameter, diameter), Image.Resampling.LANCZOS)
    backed = Image.new("RGBA", fitted.size, (*_rgb(_DEFAULT_AVATAR_COLOURS[1]), 255))
    return Image.alpha_composite(backed, fitted)


def _default_avatar(card: RankCard, diameter: int) -> Image.Image:
    """A coloured disc with the member's initial, its colour stable per username."""
    key = (card.username or card.display_name).encode()
    colour = _rgb(_DEFAULT_AVATAR_COLOURS[zlib.crc32(key) % len(_DEFAULT_AVATAR_COLOURS)])
    avatar = Image.new("RGBA", (diameter, diameter), (*colour, 255))
    size = diameter // 2
    initial = _initial(card, size)
    width = _text_width(initial, size)
    x = (diameter - width) // 2
    baseline = diameter // 2 + round(size * 0.36)
    _draw_text(ImageDraw.Draw(avatar), (x, baseline), initial, size, _WHITE, bold=True)
    return avatar


def _initial(card: RankCard, size: int) -> str:
    """The first letter or digit that some font can draw, from the display name or username."""
    name = _clean(card.display_name) + _clean(card.username)
    return next((c.upper() for c in name if c.isalnum() and _drawable(c.upper(), size)), "?")
