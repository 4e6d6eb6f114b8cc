"""libespeak-ng through ctypes: the library's constants and structures, and one freshly
loaded library instance per utterance.

The shared library and its ``espeak-ng-data`` folder come from the PyPI package
``espeakng_loader``; neither root nor a system-wide espeak is needed. espeak runs in
synchronous mode (``AUDIO_OUTPUT_SYNCHRONOUS``): ``espeak_Synth`` returns when the whole
text is spoken, and a synth callback collects the int16 samples and the
``espeakEVENT_WORD`` events (word starts) on the way.

* **Determinism.** libespeak-ng keeps synthesis state in C static variables that
  no API call resets (e.g. the pitch-"flutter" phase and the automatic gain of the
  wave generator) and draws breath/Klatt noise from ``rand()``. Consecutive calls
  in one library instance therefore give slightly different audio (even different
  lengths), and ``espeak_Terminate`` + ``espeak_Initialize`` does not help. To make
  the same ``(text, voice)`` always give bit-identical output, every call runs in a
  *freshly loaded* instance of the library (:class:`Instance`): a private in-memory copy
  of the .so (``memfd``, so nothing else in the process shares it) is ``dlopen``-ed,
  initialised, used for one utterance and ``dlclose``-d again, and both random
  generators (``espeak_ng_SetRandSeed`` and libc ``srand``) are seeded with a fixed
  value. Loading and initialising costs about 1 ms per call, and the fresh instance
  re-reads espeak's voice list when the voice is selected (~5 ms; a long-lived
  instance would do that only once). Note that this reseeds libc's ``rand()``.
  libespeak-ng leaks ~2-3 kB of heap per call (its voice list and voice data are
  not freed by ``espeak_Terminate``); in very long runs (millions of utterances)
  recycle worker processes (``maxtasksperchild``).
* **Processes and threads.** libespeak-ng has global state and is not thread-safe.
  The per-process setup (:class:`Process`: private library image, voice list, lock) is
  created once per process, lazily, and re-created when the pid changes (after ``fork``;
  :func:`get_process`); all calls into the library are serialised with its lock. Works in
  ``multiprocessing`` workers with both the ``fork`` and ``spawn`` start methods.
"""

from __future__ import annotations

import _ctypes
import atexit
import ctypes
import os
import tempfile
import threading
from dataclasses import dataclass

import numpy as np

__all__ = ["Collector", "Instance", "Process", "VoiceInfo", "get_process"]

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
# Per-process library state
# ---------------------------------------------------------------------------
class Collector:
    """Samples and word events of one espeak_Synth call."""

    def __init__(self) -> None:
        self.chunks: list[np.ndarray] = []
        self.words: list[tuple[int, int, int, int]] = []  # (text_position, length, ms, sample)
        self.error: BaseException | None = None


_ACTIVE: Collector | None = None  # the collector of the call in progress (under the lock)
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
class VoiceInfo:
    identifier: str  # e.g. "gmw/en-US"
    name: str  # e.g. "English (America)"
    languages: tuple[str, ...]  # e.g. ("en-us", "en"), by file order


class Process:
    """State that exists once per process: library image, data path, lock, caches."""

    def __init__(self, inherited: Process | None = None) -> None:
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
        self.voices: dict[str, VoiceInfo] | None = inherited.voices if inherited else None
        self.variants: list[str] | None = inherited.variants if inherited else None
        # Fail early (and with the file name) if the library cannot be loaded.
        try:
            with self.lock, Instance(self) as inst:
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


class Instance:
    """One freshly loaded, initialised libespeak-ng (context manager; hold the lock)."""

    def __init__(self, proc: Process) -> None:
        self.proc = proc
        self.lib: ctypes.CDLL | None = None
        self.native_rate = 0

    def __enter__(self) -> Instance:
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

    def list_voices(self) -> dict[str, VoiceInfo]:
        """All voices (language files), keyed by lower-case file name, e.g. "en-us"."""
        assert self.lib is not None
        table = self.lib.espeak_ListVoices(None)
        voices: dict[str, VoiceInfo] = {}
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
                voices.setdefault(key, VoiceInfo(identifier, (v.name or b"").decode("utf-8", "replace"), tuple(langs)))
            i += 1
        return voices

    def synthesize(self, text: bytes, voice_name: str, rate: int, pitch: int, pitch_range: int) -> Collector:
        """Speak UTF-8 ``text`` with the voice ``voice_name`` (e.g. "en-us+m3") at ``rate``
        words per minute, base ``pitch`` and ``pitch_range``; returns the collected samples
        and word events."""
        global _ACTIVE
        assert self.lib is not None
        lib = self.lib
        rc = lib.espeak_SetVoiceByName(voice_name.encode("utf-8"))
        if rc != _EE_OK:
            raise ValueError(f"espeak could not select voice {voice_name!r} (espeak_SetVoiceByName returned {rc})")
        # Parameters are set explicitly every call (the instance is fresh anyway).
        for param, value in (
            (_espeakRATE, rate),
            (_espeakVOLUME, _VOLUME),
            (_espeakPITCH, pitch),
            (_espeakRANGE, pitch_range),
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
        collector = Collector()
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


_PROCESS: Process | None = None
_PROCESS_LOCK = threading.Lock()


def _after_fork_in_child() -> None:
    # The parent may have held a lock at fork time: start with fresh locks.
    global _PROCESS_LOCK
    _PROCESS_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def get_process() -> Process:
    """The per-process state, (re)created on first use and after fork."""
    global _PROCESS
    proc = _PROCESS
    if proc is not None and proc.pid == os.getpid():
        return proc
    with _PROCESS_LOCK:
        proc = _PROCESS
        if proc is None or proc.pid != os.getpid():
            inherited = proc
            proc = Process(inherited)
            _PROCESS = proc
            if inherited is not None:
                inherited.discard_inherited()
    return proc
