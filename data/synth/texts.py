"""What the synthesizer's speakers say: the English word lists and the foreign sentences.

The word lists are ``data/resources/context_words.txt`` (context words of the embedded
corpus's clips; lines after a ``# validation`` marker are the held-out validation context)
and ``data/resources/vocabulary.txt`` (the corpus's labelled words, in a fixed order).
:func:`read_word_list` is the one parser of these files; :mod:`data.corpus` and the
synthesizer's English speech (:mod:`data.synth.speech`) both read them through it.
"""

from __future__ import annotations

import functools
from importlib import resources

__all__ = ["FOREIGN", "context_words", "read_word_list", "vocabulary_words"]


def read_word_list(name: str) -> tuple[list[str], list[str]]:
    """Words of the resource file ``data/resources/<name>``, one per line (blank lines and
    ``#`` comments skipped), split at a ``# validation`` marker line: (before, after; empty
    without a marker)."""
    text = resources.files("data").joinpath("resources", name).read_text(encoding="utf-8")
    parts: list[list[str]] = [[]]
    for line in text.splitlines():
        line = line.strip()
        if line.lower() == "# validation":
            parts.append([])
        elif line and not line.startswith("#"):
            parts[-1].append(line)
    return parts[0], (parts[1] if len(parts) > 1 else [])


def vocabulary_words() -> list[str]:
    """All labelled words available, in their fixed order."""
    return read_word_list("vocabulary.txt")[0]


@functools.lru_cache(maxsize=1)
def context_words() -> tuple[list[str], list[str]]:
    """(training, validation) context words; the two lists are disjoint."""
    return read_word_list("context_words.txt")


# Non-English espeak voice and five everyday sentences per language.
FOREIGN: dict[str, tuple[str, tuple[str, ...]]] = {
    "german": (
        "de",
        (
            "Der Hund spielt im Garten mit dem roten Ball.",
            "Morgen fahren wir mit dem Zug nach Hamburg.",
            "Meine Schwester trinkt jeden Morgen einen Kaffee.",
            "Das Wetter ist heute wirklich schön.",
            "Kannst du mir bitte das Buch geben?",
        ),
    ),
    "french": (
        "fr",
        (
            "Le petit chat dort sur la chaise près de la fenêtre.",
            "Nous allons au marché tous les samedis matin.",
            "Il fait très beau aujourd'hui dans le jardin.",
            "Mon frère travaille dans une grande ville.",
            "Est-ce que tu veux du pain avec ton fromage?",
        ),
    ),
    "spanish": (
        "es",
        (
            "El perro corre por la playa todas las mañanas.",
            "Mañana vamos a visitar a mis abuelos.",
            "La casa de mi amigo tiene un jardín muy grande.",
            "Me gusta leer un libro antes de dormir.",
            "¿Dónde está la estación de tren?",
        ),
    ),
    "italian": (
        "it",
        (
            "Il gatto dorme sul divano tutto il giorno.",
            "Domani andiamo al mare con i bambini.",
            "La pizza di questo ristorante è buonissima.",
            "Mia madre lavora in una piccola libreria.",
            "Che ore sono adesso, per favore?",
        ),
    ),
    "portuguese": (
        "pt",
        (
            "O menino joga futebol no parque todos os dias.",
            "Amanhã vamos viajar para a praia.",
            "A minha avó faz um bolo muito gostoso.",
            "Eu gosto de ouvir música à noite.",
            "Onde fica a padaria mais próxima?",
        ),
    ),
    "dutch": (
        "nl",
        (
            "De kinderen spelen buiten in de tuin.",
            "Morgen gaan we met de fiets naar de stad.",
            "Mijn vader drinkt elke ochtend een kopje thee.",
            "Het regent vandaag de hele dag.",
            "Waar is het station, alstublieft?",
        ),
    ),
    "russian": (
        "ru",
        (
            "Мы гуляли в парке весь вечер.",
            "Завтра я поеду к бабушке в деревню.",
            "Моя сестра любит читать интересные книги.",
            "Сегодня на улице очень холодно.",
            "Где находится ближайшая станция метро?",
        ),
    ),
    "polish": (
        "pl",
        (
            "Dzisiaj rano padał deszcz.",
            "Mój brat mieszka w dużym mieście nad rzeką.",
            "Jutro pojedziemy pociągiem do Krakowa.",
            "Lubię pić herbatę z cytryną wieczorem.",
            "Gdzie jest najbliższy sklep?",
        ),
    ),
    "mandarin": (
        "cmn",
        (
            "今天天气很好，我们去公园散步吧。",
            "我的朋友明天要去北京。",
            "这本书非常有意思。",
            "妈妈在厨房里做饭。",
            "请问火车站在哪里？",
        ),
    ),
    "hindi": (
        "hi",
        (
            "मैं हर सुबह बाजार जाता हूँ।",
            "आज मौसम बहुत अच्छा है।",
            "मेरी बहन स्कूल में पढ़ाती है।",
            "कल हम दिल्ली जाएंगे।",
            "क्या आप मेरी मदद कर सकते हैं?",
        ),
    ),
}
