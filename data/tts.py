"""Deterministic speech synthesis with libespeak-ng, driven through ctypes.

The shared library and its ``espeak-ng-data`` folder come from the PyPI package
``espeakng_loader``; neither root nor a system-wide espeak is needed.

Example::

    synth = EspeakSynthesizer(sample_rate=20000)
    utt = synth.synthesize("The quick brown fox.", Voice("en-us", variant="m3"))
    utt.waveform      # float32 [n_samples], 20 kHz, in [-1, 1)
    utt.words         # [WordTiming(text='The', start=0, end=...), ...] in samples

How it works
------------
* espeak runs in synchronous mode (``AUDIO_OUTPUT_SYNCHRONOUS``): ``espeak_Synth``
  returns when the whole text is spoken, and a synth callback collects the int16
  samples and the ``espeakEVENT_WORD`` events (word starts) on the way.
* **Determinism.** libespeak-ng keeps synthesis state in C static variables that
  no API call resets (e.g. the pitch-"flutter" phase and the automatic gain of the
  wave generator) and draws breath/Klatt noise from ``rand()``. Consecutive calls
  in one library instance therefore give slightly different audio (even different
  lengths), and ``espeak_Terminate`` + ``espeak_Initialize`` does not help. To make
  the same ``(text, voice)`` always give bit-identical output, every call runs in a
  *freshly loaded* instance of the library: a private in-memory copy of the .so
  (``memfd``, so nothing else in the process shares it) is ``dlopen``-ed,
  initialised, used for one utterance and ``dlclose``-d again, and both random
  generators (``espeak_ng_SetRandSeed`` and libc ``srand``) are seeded with a fixed
  value. Loading and initialising costs about 1 ms per call, and the fresh instance
  re-reads espeak's voice list when the voice is selected (~5 ms; a long-lived
  instance would do that only once). Note that this reseeds libc's ``rand()``.
  libespeak-ng leaks ~2-3 kB of heap per call (its voice list and voice data are
  not freed by ``espeak_Terminate``); in very long runs (millions of utterances)
  recycle worker processes (``maxtasksperchild``).
* **Processes and threads.** libespeak-ng has global state and is not thread-safe.
  The per-process setup (private library image, ctypes callback, lock) is created
  once per process, lazily, and re-created when the pid changes (after ``fork``);
  all calls into the library are serialised with a lock. Works in
  ``multiprocessing`` workers with both the ``fork`` and ``spawn`` start methods.
* **Word timings.** espeak reports only word *starts* (the exact sample index of
  each word event, cross-checked against its ``audio_position`` in ms). The *end*
  of word i is the end of the last 10 ms frame, between the word's start and the
  next word's start (or the end of the audio), whose mean energy is within 40 dB of
  the loudest 10 ms frame of that segment -- i.e. the pause after a word (comma
  pause, sentence-final pause) is not counted as part of it. Frames are laid out
  from the word start at the output sample rate; the end never passes the next
  word's start, so words are in order, non-overlapping and ``start < end``.
* **Trailing silence.** Text is synthesised with ``espeakENDPAUSE``, so the
  waveform ends with espeak's natural sentence-final pause (~0.3 s). espeak itself
  puts ~0-50 ms (typically 12 ms) of silence before the first phoneme, and word
  starts include stop closures (the audible onset follows the reported start by
  0-50 ms, median 10 ms).
* **Words.** Word events are mapped to the whitespace-delimited tokens of the text
  by their character position (``text_position``, 1-based code points). Several
  events in one token (numbers, "$3.50") give one word; a token that espeak speaks
  without an event of its own is joined to the previous word; silent punctuation
  tokens ("-", "...") are dropped.
"""

from __future__ import annotations

import _ctypes
import atexit
import ctypes
import difflib
import math
import operator
import os
import re
import tempfile
import threading
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from scipy.signal import resample_poly

__all__ = [
    "EspeakSynthesizer",
    "all_voices",
    "Utterance",
    "Voice",
    "WordTiming",
    "english_voices",
    "voice_variants",
]

# ---------------------------------------------------------------------------
# speak_lib.h constants
# ---------------------------------------------------------------------------
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_espeakINITIALIZE_DONT_EXIT = 0x8000  # return an error instead of calling exit()
_espeakCHARS_UTF8 = 1
_espeakENDPAUSE = 0x1000
_POS_CHARACTER = 1
_EE_OK = 0

_espeakEVENT_LIST_TERMINATED = 0
_espeakEVENT_WORD = 1

_espeakRATE = 1
_espeakVOLUME = 2
_espeakPITCH = 3
_espeakRANGE = 4

_VOLUME = 100  # espeak "normal full volume"
_RAND_SEED = 1  # fixed seed for espeak's and libc's random generators

PITCH_RANGE = (0, 100)  # espeak base pitch
RATE_RANGE = (80, 450)  # words per minute (espeakRATE_MINIMUM .. espeakRATE_MAXIMUM)
PITCH_RANGE_RANGE = (0, 100)  # espeak pitch range (0 = monotone, 50 = normal)
SAMPLE_RATE_RANGE = (1000, 192000)  # Hz, accepted output sample rates

_FRAME_SECONDS = 0.010  # short-time energy frame for word ends
_END_THRESHOLD_DB = 40.0  # word end: last frame within this many dB of the loudest

# English voices that are not accents: en-Shaw is British English for text written
# in the Shavian alphabet; on Latin-script text it is bit-identical to "en".
_NON_ACCENT_ENGLISH = frozenset({"en-shaw"})


# ---------------------------------------------------------------------------
# ctypes structures (speak_lib.h, API revision 12)
# ---------------------------------------------------------------------------
class _EventId(ctypes.Union):
    """``union id`` of ``espeak_EVENT``."""

    _fields_ = [
        ("number", ctypes.c_int),  # WORD and SENTENCE events
        ("name", ctypes.c_char_p),  # MARK and PLAY events (UTF-8)
        ("string", ctypes.c_char * 8),  # PHONEME events
    ]


class _EspeakEvent(ctypes.Structure):
    """``espeak_EVENT``. On 64-bit Linux: 40 bytes, ``user_data`` at 24, ``id`` at 32."""

    _fields_ = [
        ("type", ctypes.c_int),  # espeak_EVENT_TYPE (an enum, i.e. int)
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),  # characters from the start of the text, 1-based
        ("length", ctypes.c_int),  # word length in characters (WORD events)
        ("audio_position", ctypes.c_int),  # ms within the generated speech
        ("sample", ctypes.c_int),  # sample index within the generated speech
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


class _EspeakVoice(ctypes.Structure):
    """``espeak_VOICE`` (as returned by ``espeak_ListVoices``)."""

    _fields_ = [
        ("name", ctypes.c_char_p),
        # (priority byte, NUL-terminated language) pairs, ended by a 0 priority byte;
        # a c_void_p because c_char_p would stop at the first NUL.
        ("languages", ctypes.c_void_p),
        ("identifier", ctypes.c_char_p),  # file name within espeak-ng-data (lang/...)
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


_SynthCallbackType = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_EspeakEvent)
)


# ---------------------------------------------------------------------------
# Public data types
# ---------------------------------------------------------------------------
def _check_int(field: str, value: object, lo: int, hi: int, what: str) -> int:
    if isinstance(value, bool):
        raise TypeError(f"Voice.{field} must be an integer ({what}), got {value!r}")
    try:
        ivalue = operator.index(value)  # int, numpy integers, ...
    except TypeError:
        raise TypeError(f"Voice.{field} must be an integer ({what}), got {value!r}") from None
    if not lo <= ivalue <= hi:
        raise ValueError(f"Voice.{field} must be in the range {lo}..{hi} ({what}), got {ivalue}")
    return ivalue


@dataclass(frozen=True)
class Voice:
    """An espeak voice and its prosody settings.

    Attributes:
        language: espeak voice name, i.e. the voice file name, case-insensitive,
            e.g. ``"en-us"``, ``"en"``, ``"en-gb-scotland"``, ``"en-029"``, ``"de"``,
            ``"fr"`` (see :func:`english_voices`).
        variant: a file name in ``espeak-ng-data/voices/!v`` (case-sensitive), e.g.
            ``"m3"``, ``"f2"``, ``"klatt"``, or ``None`` for the plain voice
            (see :func:`voice_variants`).
        pitch: espeak base pitch, 0..100 (50 = normal).
        rate: speaking rate in words per minute, 80..450 (175 = normal).
        pitch_range: espeak pitch range, 0..100 (0 = monotone, 50 = normal).

    Ranges are checked on construction (``ValueError`` naming the field); whether
    ``language`` and ``variant`` exist is checked by
    :meth:`EspeakSynthesizer.synthesize`.
    """

    language: str
    variant: str | None = None
    pitch: int = 50
    rate: int = 175
    pitch_range: int = 50

    def __post_init__(self) -> None:
        if not isinstance(self.language, str) or not self.language.strip():
            raise ValueError(f"Voice.language must be a non-empty espeak voice name, got {self.language!r}")
        if "+" in self.language or any(c.isspace() for c in self.language):
            raise ValueError(
                f"Voice.language must be a bare espeak voice name such as 'en-us' "
                f"(give the variant separately: Voice('en-us', variant='m3')), got {self.language!r}"
            )
        if self.variant is not None:
            if (
                not isinstance(self.variant, str)
                or not self.variant
                or any(c in self.variant for c in "+/\\\0")
                or self.variant in (".", "..")
            ):
                raise ValueError(
                    f"Voice.variant must be None or a file name in espeak-ng-data/voices/!v "
                    f"such as 'm3', got {self.variant!r}"
                )
        for field, lo_hi, what in (
            ("pitch", PITCH_RANGE, "espeak base pitch"),
            ("rate", RATE_RANGE, "words per minute"),
            ("pitch_range", PITCH_RANGE_RANGE, "espeak pitch range"),
        ):
            object.__setattr__(self, field, _check_int(field, getattr(self, field), *lo_hi, what))

    def name(self) -> str:
        """The name passed to ``espeak_SetVoiceByName``, e.g. ``"en-us+m3"``."""
        return self.language if self.variant is None else f"{self.language}+{self.variant}"


@dataclass(frozen=True)
class WordTiming:
    """Where one word of the input text is in the waveform.

    Attributes:
        text: the word as it appears in the input text (a whitespace-delimited
            token with leading/trailing punctuation removed; tokens that espeak
            speaks without a word event of their own are joined to the previous
            word, e.g. ``"U.S.A. e-mail"``).
        start: first sample of the word, at the output sample rate.
        end: one past the last sample of the word (end of its audible part), at
            the output sample rate.
    """

    text: str
    start: int
    end: int


@dataclass
class Utterance:
    """Synthesised speech.

    Attributes:
        waveform: float32 ``[n_samples]`` at ``sample_rate``; espeak's int16 samples
            scaled by 1/32768 (after resampling, clipped to ``[-1, 32767/32768]``).
        sample_rate: samples per second (Hz).
        words: the spoken words in order, with timings in samples.
    """

    waveform: np.ndarray
    sample_rate: int
    words: list[WordTiming]

    @property
    def duration(self) -> float:
        """Length of the waveform in seconds."""
        return len(self.waveform) / self.sample_rate


# ---------------------------------------------------------------------------
# Per-process library state
# ---------------------------------------------------------------------------
class _Collector:
    """Samples and word events of one espeak_Synth call."""

    def __init__(self) -> None:
        self.chunks: list[np.ndarray] = []
        self.words: list[tuple[int, int, int, int]] = []  # (text_position, length, ms, sample)
        self.error: BaseException | None = None


_ACTIVE: _Collector | None = None  # the collector of the call in progress (under the lock)
_MAX_EVENTS_PER_CALLBACK = 1_000_000  # guard against a runaway event list


def _synth_callback(wav, numsamples, events) -> int:  # noqa: ANN001 (ctypes types)
    """``int SynthCallback(short *wav, int numsamples, espeak_EVENT *events)``."""
    collector = _ACTIVE
    if collector is None:
        return 1  # not ours: abort
    try:
        if wav and numsamples > 0:
            data = ctypes.string_at(wav, numsamples * ctypes.sizeof(ctypes.c_short))
            collector.chunks.append(np.frombuffer(data, dtype=np.int16))
        if events:
            for i in range(_MAX_EVENTS_PER_CALLBACK):
                ev = events[i]
                if ev.type == _espeakEVENT_LIST_TERMINATED:
                    break
                if ev.type == _espeakEVENT_WORD:
                    collector.words.append((ev.text_position, ev.length, ev.audio_position, ev.sample))
        return 0
    except BaseException as exc:  # never let an exception cross the C boundary
        collector.error = exc
        return 1


# The ctypes callback object must outlive every library instance that may call it:
# it lives (module-level) for the lifetime of the process.
_CALLBACK = _SynthCallbackType(_synth_callback)

try:
    _LIBC: ctypes.CDLL | None = ctypes.CDLL(None)
    _LIBC.srand.argtypes = [ctypes.c_uint]
    _LIBC.srand.restype = None
except (OSError, AttributeError):  # pragma: no cover - non-glibc platforms
    _LIBC = None


def _require_file(path: str, what: str) -> None:
    if not os.path.exists(path):
        raise RuntimeError(f"espeak-ng {what} not found: {path!r} (is espeakng_loader installed correctly?)")


def _make_private_image(library_path: str) -> tuple[str, int | None, str | None]:
    """Copy the .so somewhere private so that nothing else in the process shares
    (and keeps alive) the instance we load. Returns (path, memfd or None, tempfile or None)."""
    try:
        with open(library_path, "rb") as f:
            image = f.read()
    except OSError as exc:
        raise RuntimeError(f"could not read libespeak-ng shared library {library_path!r}: {exc}") from exc
    if hasattr(os, "memfd_create"):
        fd = None
        try:
            fd = os.memfd_create("libespeak-ng-private", getattr(os, "MFD_CLOEXEC", 1))
            view = memoryview(image)
            while view:
                view = view[os.write(fd, view) :]
            path = f"/proc/self/fd/{fd}"
            if os.path.exists(path):
                return path, fd, None
        except OSError:
            pass
        if fd is not None:
            os.close(fd)
    # Fallback: a private temporary file, removed at exit by the process that made it.
    try:
        fd, path = tempfile.mkstemp(prefix="libespeak-ng-", suffix=".so")
        with os.fdopen(fd, "wb") as f:
            f.write(image)
    except OSError as exc:
        raise RuntimeError(f"could not make a private copy of {library_path!r}: {exc}") from exc
    pid = os.getpid()

    def _remove() -> None:
        if os.getpid() == pid:
            try:
                os.unlink(path)
            except OSError:
                pass

    atexit.register(_remove)
    return path, None, path


@dataclass(frozen=True)
class _VoiceInfo:
    identifier: str  # e.g. "gmw/en-US"
    name: str  # e.g. "English (America)"
    languages: tuple[str, ...]  # e.g. ("en-us", "en"), by file order


class _Process:
    """State that exists once per process: library image, data path, lock, caches."""

    def __init__(self, inherited: _Process | None = None) -> None:
        self.pid = os.getpid()
        self.lock = threading.Lock()
        try:
            import espeakng_loader
        except ImportError as exc:
            raise RuntimeError(f"the espeakng_loader package is required: {exc}") from exc
        self.library_path = str(espeakng_loader.get_library_path())
        try:
            self.data_path = str(espeakng_loader.get_data_path())
        except Exception as exc:  # espeakng_loader raises RuntimeError if missing
            raise RuntimeError(f"espeak-ng data folder not found: {exc}") from exc
        _require_file(self.library_path, "shared library")
        for name in ("phontab", "phonindex", "phondata", "intonations", "lang", os.path.join("voices", "!v")):
            _require_file(os.path.join(self.data_path, name), "data file")
        self.image_path, self.image_fd, self.image_tmp = _make_private_image(self.library_path)
        # Pure-data caches can be inherited from the parent after fork.
        self.native_rate: int | None = inherited.native_rate if inherited else None
        self.voices: dict[str, _VoiceInfo] | None = inherited.voices if inherited else None
        self.variants: list[str] | None = inherited.variants if inherited else None
        # Fail early (and with the file name) if the library cannot be loaded.
        try:
            with self.lock, _Instance(self) as inst:
                self.native_rate = inst.native_rate
                if self.voices is None:
                    self.voices = inst.list_voices()
        except BaseException:
            self.discard_inherited()
            if self.image_tmp is not None:
                try:
                    os.unlink(self.image_tmp)
                except OSError:
                    pass
            raise

    def discard_inherited(self) -> None:
        """Close our descriptor of the in-memory library image (in a forked child:
        the child's copy of the parent's descriptor)."""
        if self.image_fd is not None:
            try:
                os.close(self.image_fd)
            except OSError:
                pass
            self.image_fd = None


class _Instance:
    """One freshly loaded, initialised libespeak-ng (context manager; hold the lock)."""

    def __init__(self, proc: _Process) -> None:
        self.proc = proc
        self.lib: ctypes.CDLL | None = None
        self.native_rate = 0

    def __enter__(self) -> _Instance:
        proc = self.proc
        try:
            lib = ctypes.CDLL(proc.image_path, mode=os.RTLD_LOCAL | getattr(os, "RTLD_NOW", 2))
        except OSError as exc:
            raise RuntimeError(
                f"could not load libespeak-ng from {proc.library_path!r} (private copy {proc.image_path!r}): {exc}"
            ) from exc
        self.lib = lib
        try:
            lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
            lib.espeak_Initialize.restype = ctypes.c_int
            lib.espeak_SetSynthCallback.argtypes = [_SynthCallbackType]
            lib.espeak_SetSynthCallback.restype = None
            lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
            lib.espeak_SetVoiceByName.restype = ctypes.c_int
            lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
            lib.espeak_SetParameter.restype = ctypes.c_int
            lib.espeak_Synth.argtypes = [
                ctypes.c_void_p,
                ctypes.c_size_t,
                ctypes.c_uint,
                ctypes.c_int,
                ctypes.c_uint,
                ctypes.c_uint,
                ctypes.POINTER(ctypes.c_uint),
                ctypes.c_void_p,
            ]
            lib.espeak_Synth.restype = ctypes.c_int
            lib.espeak_ListVoices.argtypes = [ctypes.c_void_p]
            lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_EspeakVoice))
            lib.espeak_Terminate.argtypes = []
            lib.espeak_Terminate.restype = ctypes.c_int
        except AttributeError as exc:
            self._unload()
            raise RuntimeError(f"{proc.library_path!r} is not a usable libespeak-ng: {exc}") from exc
        rate = lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, os.fsencode(proc.data_path), _espeakINITIALIZE_DONT_EXIT
        )
        if rate <= 0:
            self._unload()
            raise RuntimeError(
                f"espeak_Initialize failed (returned {rate}) with data folder {proc.data_path!r} "
                f"(library {proc.library_path!r})"
            )
        self.native_rate = int(rate)
        lib.espeak_SetSynthCallback(_CALLBACK)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.lib is not None:
            self.lib.espeak_Terminate()
            self._unload()

    def _unload(self) -> None:
        lib, self.lib = self.lib, None
        if lib is not None:
            handle = lib._handle
            del lib
            _ctypes.dlclose(handle)

    def list_voices(self) -> dict[str, _VoiceInfo]:
        """All voices (language files), keyed by lower-case file name, e.g. "en-us"."""
        assert self.lib is not None
        table = self.lib.espeak_ListVoices(None)
        voices: dict[str, _VoiceInfo] = {}
        i = 0
        while table and table[i]:
            v = table[i].contents
            langs = []
            addr = v.languages
            while addr:
                if ctypes.c_ubyte.from_address(addr).value == 0:  # priority 0 ends the list
                    break
                lang = ctypes.string_at(addr + 1)
                langs.append(lang.decode("utf-8", "replace"))
                addr += 2 + len(lang)
            identifier = (v.identifier or b"").decode("utf-8", "replace")
            if identifier:
                key = identifier.rsplit("/", 1)[-1].lower()
                voices.setdefault(
                    key, _VoiceInfo(identifier, (v.name or b"").decode("utf-8", "replace"), tuple(langs))
                )
            i += 1
        return voices

    def synthesize(self, text: bytes, voice: Voice) -> _Collector:
        global _ACTIVE
        assert self.lib is not None
        lib = self.lib
        rc = lib.espeak_SetVoiceByName(voice.name().encode("utf-8"))
        if rc != _EE_OK:
            raise ValueError(f"espeak could not select voice {voice.name()!r} (espeak_SetVoiceByName returned {rc})")
        # Parameters are set explicitly every call (the instance is fresh anyway).
        for param, value in (
            (_espeakRATE, voice.rate),
            (_espeakVOLUME, _VOLUME),
            (_espeakPITCH, voice.pitch),
            (_espeakRANGE, voice.pitch_range),
        ):
            rc = lib.espeak_SetParameter(param, value, 0)
            if rc != _EE_OK:
                raise RuntimeError(f"espeak_SetParameter({param}, {value}) failed with {rc}")
        if hasattr(lib, "espeak_ng_SetRandSeed"):
            lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
            lib.espeak_ng_SetRandSeed.restype = ctypes.c_int
            lib.espeak_ng_SetRandSeed(_RAND_SEED)
        if _LIBC is not None:
            _LIBC.srand(_RAND_SEED)
        buf = ctypes.create_string_buffer(text)  # NUL-terminated
        collector = _Collector()
        _ACTIVE = collector
        try:
            rc = lib.espeak_Synth(
                buf, len(text) + 1, 0, _POS_CHARACTER, 0, _espeakCHARS_UTF8 | _espeakENDPAUSE, None, None
            )
        finally:
            _ACTIVE = None
        if collector.error is not None:
            raise RuntimeError(f"error in the espeak synth callback: {collector.error!r}") from collector.error
        if rc != _EE_OK:
            raise RuntimeError(f"espeak_Synth failed with {rc}")
        return collector


_PROCESS: _Process | None = None
_PROCESS_LOCK = threading.Lock()


def _after_fork_in_child() -> None:
    # The parent may have held a lock at fork time: start with fresh locks.
    global _PROCESS_LOCK
    _PROCESS_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _get_process() -> _Process:
    """The per-process state, (re)created on first use and after fork."""
    global _PROCESS
    proc = _PROCESS
    if proc is not None and proc.pid == os.getpid():
        return proc
    with _PROCESS_LOCK:
        proc = _PROCESS
        if proc is None or proc.pid != os.getpid():
            inherited = proc
            proc = _Process(inherited)
            _PROCESS = proc
            if inherited is not None:
                inherited.discard_inherited()
    return proc


# ---------------------------------------------------------------------------
# Voice lists and validation
# ---------------------------------------------------------------------------
def _voices() -> dict[str, _VoiceInfo]:
    voices = _get_process().voices
    assert voices is not None
    return voices


def english_voices() -> list[str]:
    """English espeak voice names (accents) in the bundled data, sorted, e.g.
    ``["en", "en-029", "en-gb-scotland", ..., "en-us", "en-us-nyc"]``.

    ``"en"`` is British English. ``"en-shaw"`` (Shavian alphabet) is left out: it is
    not an accent and speaks Latin-script text exactly like ``"en"``."""
    out = []
    for key, info in _voices().items():
        primary = info.languages[0].lower() if info.languages else key
        if (primary == "en" or primary.startswith("en-")) and key not in _NON_ACCENT_ENGLISH:
            out.append(key)
    return sorted(out)


def all_voices() -> list[str]:
    """All espeak voice names (any language) in the bundled data, sorted."""
    return sorted(_voices())


def voice_variants() -> list[str]:
    """Variant names (file names in ``espeak-ng-data/voices/!v``), sorted."""
    proc = _get_process()
    if proc.variants is None:
        folder = os.path.join(proc.data_path, "voices", "!v")
        proc.variants = sorted(f for f in os.listdir(folder) if os.path.isfile(os.path.join(folder, f)))
    return list(proc.variants)


def _suggest(wanted: str, names: list[str], preferred: list[str], n: int = 8) -> str:
    close = difflib.get_close_matches(wanted, names, n=4, cutoff=0.5)
    shown = list(dict.fromkeys(close + [p for p in preferred if p in names] + names))[:n]
    return ", ".join(repr(s) for s in shown) + f" ({len(names)} in total)"


def _validate_voice(voice: Voice) -> None:
    if not isinstance(voice, Voice):
        raise TypeError(f"voice must be a Voice, got {type(voice).__name__}")
    voices = _voices()
    key = voice.language.lower()
    known = key in voices or any(info.identifier.lower() == key for info in voices.values())
    if not known:
        names = sorted(voices)
        raise ValueError(
            f"unknown espeak voice {voice.name()!r}: language {voice.language!r} is not available; "
            f"available voices include {_suggest(key, names, ['en', 'en-us', 'en-gb-scotland', 'de', 'fr'])}"
        )
    if voice.variant is not None:
        variants = voice_variants()
        if voice.variant not in variants:
            raise ValueError(
                f"unknown espeak voice {voice.name()!r}: variant {voice.variant!r} is not in voices/!v; "
                f"available variants include {_suggest(voice.variant, variants, ['m1', 'm3', 'f2', 'klatt'])}"
            )


# ---------------------------------------------------------------------------
# Word alignment
# ---------------------------------------------------------------------------
_TOKEN_RE = re.compile(r"\S+")


def _strip_punctuation(s: str) -> str:
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


def _align_words(text: str, events: list[tuple[int, int, int, int]], rate: int) -> list[list[int]]:
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


def _word_ends(wave: np.ndarray, starts: list[int], frame: int) -> list[int]:
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


# ---------------------------------------------------------------------------
# Synthesizer
# ---------------------------------------------------------------------------
class EspeakSynthesizer:
    """Text-to-speech with libespeak-ng (see the module docstring).

    Instances are cheap, hold only the output sample rate, are picklable, and can
    be shared between threads (calls are serialised) and sent to worker processes.
    """

    def __init__(self, sample_rate: int = 20000) -> None:
        """``sample_rate``: output sample rate in Hz (1000..192000). espeak renders at
        its native rate (22050 Hz) and the result is resampled with
        ``scipy.signal.resample_poly`` by the reduced ratio (20 kHz: up 400, down 441).

        Raises ``RuntimeError`` if libespeak-ng or its data cannot be loaded."""
        if isinstance(sample_rate, bool):
            raise TypeError(f"sample_rate must be an integer number of Hz, got {sample_rate!r}")
        try:
            sr = operator.index(sample_rate)
        except TypeError:
            raise TypeError(f"sample_rate must be an integer number of Hz, got {sample_rate!r}") from None
        lo, hi = SAMPLE_RATE_RANGE
        if not lo <= sr <= hi:
            raise ValueError(f"sample_rate must be in the range {lo}..{hi} Hz, got {sr}")
        self.sample_rate = sr
        _get_process()  # load now, so that a broken installation fails here

    @property
    def native_sample_rate(self) -> int:
        """espeak's own output rate in Hz (from ``espeak_Initialize``), 22050."""
        rate = _get_process().native_rate
        assert rate is not None
        return rate

    def __repr__(self) -> str:
        return f"EspeakSynthesizer(sample_rate={self.sample_rate})"

    def synthesize(self, text: str, voice: Voice) -> Utterance:
        """Speak ``text`` with ``voice``.

        Returns an :class:`Utterance` with the float32 waveform at
        ``self.sample_rate`` and one :class:`WordTiming` per spoken word (samples at
        ``self.sample_rate``). The same ``(text, voice)`` always gives bit-identical
        output, independent of earlier calls.

        Raises:
            ValueError: empty/blank text, text without anything speakable, text with
                NUL characters or invalid Unicode, or an unknown voice
                language/variant (the message names the voice and lists available
                names).
            TypeError: ``text`` is not a ``str`` or ``voice`` is not a :class:`Voice`.
            RuntimeError: the library cannot be loaded or fails.
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        if not text.strip():
            raise ValueError("text is empty: nothing to synthesize")
        if "\0" in text:
            raise ValueError("text must not contain NUL characters")
        try:
            encoded = text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(f"text is not valid Unicode: {exc}") from exc
        _validate_voice(voice)

        proc = _get_process()
        with proc.lock, _Instance(proc) as inst:
            collector = inst.synthesize(encoded, voice)
            native = inst.native_rate

        samples = np.concatenate(collector.chunks) if collector.chunks else np.zeros(0, np.int16)
        words = _align_words(text, collector.words, native)
        if samples.size == 0 or not words:
            raise ValueError(f"text {text[:60]!r} contains nothing speakable for voice {voice.name()!r}")

        # Resample to the output rate.
        ratio = Fraction(self.sample_rate, native)
        up, down = ratio.numerator, ratio.denominator
        wave = samples.astype(np.float64) / 32768.0
        if (up, down) != (1, 1):
            wave = resample_poly(wave, up, down)
        wave = np.clip(wave, -1.0, 32767.0 / 32768.0).astype(np.float32)
        n = len(wave)

        # Word starts at the output rate; words whose start coincides are merged.
        merged: list[list[int]] = []
        for a, b, s in words:
            start = min((s * up + down // 2) // down, n - 1)
            if merged and start <= merged[-1][2]:
                merged[-1][1] = b
            else:
                merged.append([a, b, start])
        starts = [m[2] for m in merged]
        ends = _word_ends(wave, starts, max(1, int(round(_FRAME_SECONDS * self.sample_rate))))
        timings = [
            WordTiming(_strip_punctuation(text[a:b]), start, end)
            for (a, b, start), end in zip(merged, ends)
        ]
        return Utterance(waveform=wave, sample_rate=self.sample_rate, words=timings)
