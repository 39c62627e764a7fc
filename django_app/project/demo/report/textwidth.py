"""How wide a line of the report's text is drawn, so the sequence diagram can size its lanes
and its width to its labels instead of clipping them.

The widths are DejaVu Sans's advances (thousandths of the font size), as Chromium on Debian
draws `sans-serif` with it and measured them with canvas `measureText`. DejaVu Sans is wider
than Arial, Helvetica or Liberation Sans, the usual `sans-serif` elsewhere, so a line fits
wherever it is drawn; a character not in the tables counts as a full em.
"""

from __future__ import annotations

_FIRST = 32  # the tables start at the space and run to "~"


def _table(numbers: str) -> tuple[int, ...]:
    return tuple(int(n) for n in numbers.split())


_REGULAR = _table(
    """
318 401 460 838 636 950 780 275 390 390 500 838 318 361 318 337 636 636 636 636 636 636 636
636 636 636 337 337 838 838 838 531 1000 684 686 698 770 632 575 775 752 295 295 656 557 863
748 787 603 787 695 635 611 732 684 989 685 611 685 390 337 390 838 500 500 613 635 550 635
615 352 635 634 278 278 579 278 974 634 612 635 635 411 521 392 634 592 818 592 592 525 636
337 636 838
"""
)
_BOLD = _table(
    """
348 456 521 838 696 1002 872 306 457 457 523 838 380 415 380 365 696 696 696 696 696 696 696
696 696 696 400 400 838 838 838 580 1000 774 762 734 830 683 683 821 837 372 372 775 637 995
837 850 733 850 770 720 682 812 774 1103 771 724 725 457 365 457 838 500 500 675 716 593 716
678 435 716 712 343 343 665 343 1042 712 687 716 716 493 595 478 712 652 924 645 652 582 712
365 712 838
"""
)
# arrow, middle dot, em dash, ellipsis, check, cross, times, the retry arrow
_OTHERS = {
    "\u2192": 838,
    "\u00b7": 318,
    "\u2014": 1000,
    "\u2026": 1000,
    "\u2713": 838,
    "\u2717": 838,
    "\u00d7": 838,
    "\u21bb": 838,
}
_OTHERS_BOLD = {
    "\u2192": 838,
    "\u00b7": 380,
    "\u2014": 1000,
    "\u2026": 1000,
    "\u2713": 838,
    "\u2717": 838,
    "\u00d7": 838,
    "\u21bb": 838,
}
_EM = 1000


def text_width(text: str, size: float, *, bold: bool = False) -> float:
    """The width in px of `text` drawn at `size` px in the report's sans-serif."""
    table, others = (_BOLD, _OTHERS_BOLD) if bold else (_REGULAR, _OTHERS)
    units = 0
    for ch in text:
        code = ord(ch) - _FIRST
        units += table[code] if 0 <= code < len(table) else others.get(ch, _EM)
    return units * size / 1000
