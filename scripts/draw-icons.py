"""Draws Citrus Workstation's icon (a citrus slice with a clinical cross on a teal tile)
into icons/ at the sizes tauri.conf.json lists. Run once by hand: python3 scripts/draw-icons.py
(needs Pillow); the PNGs are committed."""

import math
from pathlib import Path

from PIL import Image, ImageDraw

SCALE = 4  # draw large, then downsample for smooth edges
SIZE = 1024 * SCALE


def draw() -> Image.Image:
    image = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    s = SCALE
    pen.rounded_rectangle((48 * s, 48 * s, 976 * s, 976 * s), radius=200 * s, fill="#0f4c5c")
    c = 512 * s
    pen.ellipse((c - 330 * s, c - 330 * s, c + 330 * s, c + 330 * s), fill="#f39c32")
    pen.ellipse((c - 290 * s, c - 290 * s, c + 290 * s, c + 290 * s), fill="#fff4d6")
    for i in range(8):
        a0, a1 = math.radians(i * 45 + 5), math.radians((i + 1) * 45 - 5)
        mid = (a0 + a1) / 2
        points = [(c + 30 * s * math.cos(mid), c + 30 * s * math.sin(mid))]
        for k in range(21):
            a = a0 + (a1 - a0) * k / 20
            points.append((c + 250 * s * math.cos(a), c + 250 * s * math.sin(a)))
        pen.polygon(points, fill="#f6c945")
    pen.rounded_rectangle((690 * s, 640 * s, 890 * s, 704 * s), radius=14 * s, fill="white")
    pen.rounded_rectangle((758 * s, 572 * s, 822 * s, 772 * s), radius=14 * s, fill="white")
    return image


def main() -> None:
    out = Path(__file__).resolve().parent.parent / "icons"
    big = draw()
    for name, size in [("32x32.png", 32), ("128x128.png", 128), ("128x128@2x.png", 256), ("icon.png", 512)]:
        big.resize((size, size), Image.LANCZOS).save(out / name)


if __name__ == "__main__":
    main()
