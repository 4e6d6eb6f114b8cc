"""Word timings of espeak-ng's output: which text token each word event belongs to, and
where each word ends.

* **Word starts.** espeak reports only word *starts* (the exact sample index of each word
  event, cross-checked against its ``audio_position`` in ms).
* **Word ends.** The *end* of word i is the end of the last 10 ms frame, between the word's
  start and the next word's start (or the end of the audio), whose mean energy is within
  40 dB of the loudest 10 ms frame of that segment -- i.e. the pause after a word (comma
  pause, sentence-final pause) is not counted as part of it. Frames are laid out from the
  word start at the output sample rate; the end never passes the next word's start, so
  words are in order, non-overlapping and ``start < end``.
* **Words.** Word events are mapped to the whitespace-delimited tokens of the text by their
  character position (``text_position``, 1-based code points). Several events in one token
  (numbers, "$3.50") give one word; a token that espeak speaks without an event of its own
  is joined to the previous word; silent punctuation tokens ("-", "...") are dropped.
"""

from __future__ import annotations

import math
import re
import unicodedata
from bisect import bisect_right

import numpy as np

__all__ = ["FRAME_SECONDS", "align_words", "strip_punctuation", "word_ends"]

FRAME_SECONDS = 0.010  # short-time energy frame for word ends
_END_THRESHOLD_DB = 40.0  # word end: last frame within this many dB of the loudest
_TOKEN_RE = re.compile(r"\S+")


def strip_punctuation(s: str) -> str:
    """``s`` without leading and trailing Unicode punctuation (``s`` itself if that leaves nothing)."""
    i, j = 0, len(s)
    while i < j and unicodedata.category(s[i]).startswith("P"):
        i += 1
    while j > i and unicodedata.category(s[j - 1]).startswith("P"):
        j -= 1
    return s[i:j] or s


def _event_sample(ms: int, sample: int, rate: int) -> int:
    """Native-rate sample of a word event: the exact ``sample`` field when it agrees
    with ``audio_position`` (ms, rounded down), else ``audio_position`` itself."""
    if sample >= 0 and abs(sample * 1000.0 / rate - ms) <= 1.5:
        return sample
    return int(round(ms * rate / 1000.0))


def align_words(text: str, events: list[tuple[int, int, int, int]], rate: int) -> list[list[int]]:
    """Map espeak word events to text tokens.

    Returns ``[char_start, char_end, native_sample]`` per word, in order, with
    strictly increasing samples. Several events inside one token (numbers, "$3.50",
    hyphenated words) give one word; tokens without an event of their own are joined
    to the previous word if they contain letters or digits, else dropped (silent
    punctuation)."""
    tokens = [(m.start(), m.end()) for m in _TOKEN_RE.finditer(text)]
    if not tokens:
        return []
    token_ends = [e for _, e in tokens]

    def spoken(t: int) -> bool:
        a, b = tokens[t]
        return any(c.isalnum() for c in text[a:b])

    # 1. token of each event: the token containing its position; a position in
    #    whitespace (e.g. the 2nd word of an expanded emoji) goes to the token before.
    mapped: list[tuple[int, int]] = []  # (token index, native sample)
    for text_position, _length, ms, sample in events:
        pos = max(text_position - 1, 0)  # 1-based characters -> 0-based
        tok = bisect_right(token_ends, pos)  # first token ending after pos
        if tok >= len(tokens) or tokens[tok][0] > pos:
            tok = max(tok - 1, 0)
        mapped.append((tok, _event_sample(ms, sample, rate)))
    # 2. espeak reports the word after a dash at the dash ("one - two": "two" at
    #    "-"): move an event off a silent punctuation token onto the next token if
    #    that one is spoken and has no event of its own.
    with_events = {t for t, _ in mapped}
    for i, (tok, s) in enumerate(mapped):
        if not spoken(tok) and tok + 1 < len(tokens) and spoken(tok + 1) and tok + 1 not in with_events:
            mapped[i] = (tok + 1, s)
    # 3. first event of each token, in order, with increasing samples
    firsts: list[tuple[int, int]] = []
    for tok, s in mapped:
        if firsts and tok <= firsts[-1][0]:
            continue  # same token (or out of order): part of the current word
        if firsts and s <= firsts[-1][1]:
            # no audio of its own: extend the current word to this token
            firsts.append((tok, firsts[-1][1]))
            continue
        firsts.append((tok, s))

    words: list[list[int]] = []
    for k, (tok, s) in enumerate(firsts):
        nxt = firsts[k + 1][0] if k + 1 < len(firsts) else len(tokens)
        last = tok
        for t in range(tok + 1, nxt):  # tokens without events of their own
            if spoken(t):
                last = t
        if words and s <= words[-1][2]:
            words[-1][1] = tokens[last][1]
        else:
            words.append([tokens[tok][0], tokens[last][1], s])
    if words:  # spoken tokens before the first event belong to the first word
        for t in range(firsts[0][0]):
            if spoken(t):
                words[0][0] = tokens[t][0]
                break
    return words


def word_ends(wave: np.ndarray, starts: list[int], frame: int) -> list[int]:
    """End of each word: end of the last ``frame``-sample frame of its segment
    [start_i, start_{i+1}) whose mean energy is within 40 dB of the segment's
    loudest frame (capped at the segment end). See the module docstring."""
    n = len(wave)
    ends = []
    threshold = 10.0 ** (-_END_THRESHOLD_DB / 10.0)
    for i, s in enumerate(starts):
        limit = starts[i + 1] if i + 1 < len(starts) else n
        seg = wave[s:limit].astype(np.float64)
        n_frames = max(1, math.ceil(len(seg) / frame))
        power = np.zeros(n_frames * frame)
        power[: len(seg)] = seg * seg
        counts = np.full(n_frames, frame, dtype=np.float64)
        counts[-1] = len(seg) - (n_frames - 1) * frame
        energy = power.reshape(n_frames, frame).sum(axis=1) / np.maximum(counts, 1)
        peak = energy.max()
        last = int(np.nonzero(energy >= peak * threshold)[0][-1]) if peak > 0 else 0
        ends.append(min(s + (last + 1) * frame, limit))
    return ends
