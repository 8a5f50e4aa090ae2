"""Rank card: a valid PNG, a proportional bar, default avatars, MAX, awkward names, speed."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest
from PIL import Image, ImageFont

from gateway import rank_card
from gateway.rank_card import HEIGHT, WIDTH, RankCard, layout, render_rank_card

CARD = RankCard(
    display_name="Aurora Lindqvist",
    username="aurora.dev",
    avatar=None,
    level=12,
    rank=3,
    xp_into_level=1234,
    xp_needed=2000,
    total_xp=18_734,
)
DEFAULT_AVATAR_COLOURS = {rank_card._rgb(c) for c in rank_card._DEFAULT_AVATAR_COLOURS}
AVATAR_X, AVATAR_Y = rank_card._AVATAR_CENTER
AWKWARD_NAMES = [
    "Ωmega",
    "山田",
    "山田太郎",
    "Zoë Ñandú",
    "e\u0301clair",  # decomposed accent
    "😀🔥",
    "👨\u200d👩\u200d👧 family",  # ZWJ sequence
    "محمد",
    "שלום\u200f",
    "Ж" * 80,
    "tab\tnew\nline\x00nul",
    "   ",
    "",
    "\U0010fffd",
]


def decode(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    return image.convert("RGBA")


def image_bytes(fmt: str, colour=(220, 30, 30), size=(64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format=fmt)
    return out.getvalue()


def close(a, b, tolerance=12) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a[:3], b[:3], strict=True))


def rgba(image: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    pixel = image.getpixel(xy)
    assert isinstance(pixel, tuple)
    return pixel


def bar_pixel(image: Image.Image, spec: dict, fraction: float):
    x0, y0, x1, y1 = spec["bar"]
    return rgba(image, (x0 + round((x1 - x0) * fraction), (y0 + y1) // 2))


def test_renders_a_png_of_the_card_size():
    image = decode(render_rank_card(CARD))
    assert image.size == (WIDTH, HEIGHT) == (934, 282)
    assert rgba(image, (0, 0))[3] == 0  # rounded corner: transparent
    assert rgba(image, (WIDTH // 2, HEIGHT // 2))[3] == 255


@pytest.mark.parametrize(
    ("into", "needed", "filled"),
    [(0, 2000, set()), (1000, 2000, {0.25}), (2000, 2000, {0.25, 0.75}), (5, 0, {0.25, 0.75})],
)
def test_progress_bar_fill_is_proportional(into, needed, filled):
    card = replace(CARD, xp_into_level=into, xp_needed=needed)
    spec = layout(card)
    x0, _, x1, _ = spec["bar"]
    assert spec["fill_width"] == round((x1 - x0) * (min(into / needed, 1) if needed else 1))
    image = decode(render_rank_card(card))
    for fraction in (0.25, 0.75):
        pixel = bar_pixel(image, spec, fraction)
        if fraction in filled:
            assert not close(pixel, spec["track"])
            assert pixel[2] > pixel[0] + 80  # blurple: blue well above red
        else:
            assert close(pixel, spec["track"], tolerance=2)


def test_fill_uses_the_accent_colour():
    card = replace(CARD, accent=0x3BA55C, xp_into_level=1500)
    pixel = bar_pixel(decode(render_rank_card(card)), layout(card), 0.25)
    assert pixel[1] > pixel[0] + 60 and pixel[1] > pixel[2] + 30


def test_overfull_and_negative_progress_are_clamped():
    assert (
        layout(replace(CARD, xp_into_level=9999))["fill_width"]
        == layout(replace(CARD, xp_into_level=2000))["fill_width"]
    )
    assert layout(replace(CARD, xp_into_level=-5))["fill_width"] == 0


def test_max_level_shows_max_and_a_full_bar():
    spec = layout(replace(CARD, xp_into_level=0, xp_needed=0))
    assert spec["xp"] == "MAX"
    assert "MAX" in [piece.text for piece in spec["texts"]]
    assert spec["fill_width"] == spec["bar"][2] - spec["bar"][0]
    assert layout(CARD)["xp"] == "1,234 / 2,000 XP"


def test_strings_drawn():
    spec = layout(CARD)
    texts = [piece.text.strip() for piece in spec["texts"]]
    assert texts == [
        "RANK",
        "#3",
        "LEVEL",
        "12",
        "Aurora Lindqvist",
        "1,234",
        "/ 2,000 XP",
        "@aurora.dev",
        "18,734 XP total",
    ]
    assert (spec["name"], spec["username"], spec["rank"], spec["level"]) == (
        "Aurora Lindqvist",
        "@aurora.dev",
        "#3",
        "12",
    )


def test_unranked_member_has_no_rank():
    spec = layout(replace(CARD, rank=None))
    assert spec["rank"] is None
    assert not [p for p in spec["texts"] if "RANK" in p.text]


def test_default_avatar_for_none_and_garbage():
    none = render_rank_card(CARD)
    assert render_rank_card(replace(CARD, avatar=b"")) == none
    assert render_rank_card(replace(CARD, avatar=b"\x89PNG not really")) == none
    assert render_rank_card(replace(CARD, avatar=image_bytes("PNG")[:60])) == none  # truncated
    pixel = rgba(decode(none), (AVATAR_X - 60, AVATAR_Y))  # inside the disc, off the initial
    assert pixel[:3] in DEFAULT_AVATAR_COLOURS


def test_default_avatar_colour_is_stable_per_username():
    a = decode(render_rank_card(replace(CARD, username="alice")))
    b = decode(render_rank_card(replace(CARD, username="alice", display_name="Alice!")))
    assert a.getpixel((AVATAR_X - 60, AVATAR_Y)) == b.getpixel((AVATAR_X - 60, AVATAR_Y))


def test_oversized_avatar_is_refused():
    out = io.BytesIO()
    Image.new("1", (5000, 5000)).save(out, format="PNG")  # 25 Mpx: a small file, a big bitmap
    assert render_rank_card(replace(CARD, avatar=out.getvalue())) == render_rank_card(CARD)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP"])
def test_avatar_formats_from_the_cdn(fmt):
    image = decode(render_rank_card(replace(CARD, avatar=image_bytes(fmt))))
    assert close(image.getpixel((AVATAR_X, AVATAR_Y)), (220, 30, 30), tolerance=20)


def test_avatar_formats_outside_the_list_are_refused():
    assert render_rank_card(replace(CARD, avatar=image_bytes("BMP"))) == render_rank_card(CARD)


def test_long_names_are_truncated_with_an_ellipsis():
    card = replace(CARD, display_name="Bartholomew the Incredibly Long-Named Wizard " * 3)
    spec = layout(card)
    name = next(p for p in spec["texts"] if p.text == spec["name"])
    xp_start = next(p for p in spec["texts"] if p.text == "1,234").xy[0]
    assert spec["name"].endswith("…")
    assert spec["name"].startswith("Bartholomew the")
    assert name.xy[0] + rank_card._text_width(name.text, name.size) < xp_start
    decode(render_rank_card(card))


@pytest.mark.parametrize("name", AWKWARD_NAMES)
def test_awkward_names_render(name):
    for card in (replace(CARD, display_name=name), replace(CARD, display_name=name, username=name)):
        assert decode(render_rank_card(card)).size == (WIDTH, HEIGHT)


def test_unrenderable_display_name_falls_back_to_the_username(monkeypatch):
    monkeypatch.setattr(rank_card, "_drawable", lambda char, size: ord(char) < 0x3000)
    assert layout(replace(CARD, display_name="山田太郎", username="yamada"))["name"] == "yamada"
    assert layout(replace(CARD, display_name="Zoë 山"))["name"] == "Zoë 山"


def test_huge_numbers_stay_on_the_card():
    card = replace(CARD, level=999_999, rank=987_654_321, xp_into_level=10**9, xp_needed=2 * 10**9)
    spec = layout(card)
    assert spec["rank"] == "#987.7M"
    for piece in spec["texts"]:
        assert piece.xy[0] >= rank_card._CONTENT_X0
        assert piece.xy[0] + rank_card._text_width(piece.text, piece.size) <= rank_card._CONTENT_X1


def test_light_background_gets_dark_text():
    spec = layout(replace(CARD, background=0xF2F3F5))
    name = next(p for p in spec["texts"] if p.text == spec["name"])
    assert max(name.fill) < 60


@pytest.mark.parametrize(
    "fonts",
    [
        pytest.param(lambda size: (ImageFont.load_default(size=size),), id="bundled-font-only"),
        pytest.param(lambda size: (ImageFont.load_default_imagefont(),), id="bitmap-font-only"),
    ],
)
def test_degrades_without_system_fonts(monkeypatch, fonts):
    cache: dict[int, tuple] = {}
    monkeypatch.setattr(rank_card, "_fonts", lambda size: cache.setdefault(size, fonts(size)))
    for name in ("Aurora", "Ωmega 山田 😀 Zoë", "x" * 200):
        card = replace(CARD, display_name=name, username=name)
        assert decode(render_rank_card(card)).size == (WIDTH, HEIGHT)


def test_output_is_deterministic():
    card = replace(CARD, avatar=image_bytes("JPEG"), display_name="Ωmega 山田")
    assert render_rank_card(card) == render_rank_card(replace(card))


@pytest.mark.parametrize("height", [37, 38])
def test_every_fill_width_draws_a_bar(height):
    """Found by the benchmark: a fill exactly as wide as the bar is tall used to crash."""
    from gateway.rank_card import _pill_mask

    for width in range(1, 3 * height):
        mask = _pill_mask(width, height)
        assert mask.size == (width, height)
        centre = mask.getpixel((width // 2, height // 2))
        assert isinstance(centre, int) and centre > 200  # anti-aliased at the tip
