"""What the Nikkei 225 has never done: the bounds both checks of "could a market produce this?" share.

`data.plausible` holds a price file to them, `data.answer` a model's forecast. A leaf with no imports
(checking an answer must not cost numpy: dating a forecast imports neither numpy nor pandas).
"""

from __future__ import annotations

MAX_DAY_MOVE = 0.20
"""Largest plausible change from one close to the next (a fraction). The largest moves in the index's
history are -14.90 % on 1987-10-20 (Black Monday, a day late in Tokyo) and +14.15 % on 2008-10-14; 20 %
leaves a margin of five points over both, while a misplaced decimal point (x10 is +900 %, /10 is -90 %),
a wrong digit in the ten-thousands or a broken model is far beyond it."""
