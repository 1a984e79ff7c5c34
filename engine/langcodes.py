"""Language names as transcription services answer them ("english", "Spanish") turned into codes."""

from __future__ import annotations

# Whisper's language table (openai/whisper, whisper/tokenizer.py LANGUAGES): the names its
# verbose_json "language" field uses. Codes are ISO 639-1 where one exists.
_WHISPER = {
    "en": "english", "zh": "chinese", "de": "german", "es": "spanish", "ru": "russian",
    "ko": "korean", "fr": "french", "ja": "japanese", "pt": "portuguese", "tr": "turkish",
    "pl": "polish", "ca": "catalan", "nl": "dutch", "ar": "arabic", "sv": "swedish",
    "it": "italian", "id": "indonesian", "hi": "hindi", "fi": "finnish", "vi": "vietnamese",
    "he": "hebrew", "uk": "ukrainian", "el": "greek", "ms": "malay", "cs": "czech",
    "ro": "romanian", "da": "danish", "hu": "hungarian", "ta": "tamil", "no": "norwegian",
    "th": "thai", "ur": "urdu", "hr": "croatian", "bg": "bulgarian", "lt": "lithuanian",
    "la": "latin", "mi": "maori", "ml": "malayalam", "cy": "welsh", "sk": "slovak",
    "te": "telugu", "fa": "persian", "lv": "latvian", "bn": "bengali", "sr": "serbian",
    "az": "azerbaijani", "sl": "slovenian", "kn": "kannada", "et": "estonian",
    "mk": "macedonian", "br": "breton", "eu": "basque", "is": "icelandic", "hy": "armenian",
    "ne": "nepali", "mn": "mongolian", "bs": "bosnian", "kk": "kazakh", "sq": "albanian",
    "sw": "swahili", "gl": "galician", "mr": "marathi", "pa": "punjabi", "si": "sinhala",
    "km": "khmer", "sn": "shona", "yo": "yoruba", "so": "somali", "af": "afrikaans",
    "oc": "occitan", "ka": "georgian", "be": "belarusian", "tg": "tajik", "sd": "sindhi",
    "gu": "gujarati", "am": "amharic", "yi": "yiddish", "lo": "lao", "uz": "uzbek",
    "fo": "faroese", "ht": "haitian creole", "ps": "pashto", "tk": "turkmen", "nn": "nynorsk",
    "mt": "maltese", "sa": "sanskrit", "lb": "luxembourgish", "my": "myanmar", "bo": "tibetan",
    "tl": "tagalog", "mg": "malagasy", "as": "assamese", "tt": "tatar", "haw": "hawaiian",
    "ln": "lingala", "ha": "hausa", "ba": "bashkir", "jw": "javanese", "su": "sundanese",
    "yue": "cantonese",
}  # fmt: skip
# Other spellings Whisper accepts as names (tokenizer.py TO_LANGUAGE_CODE) and common English ones.
_ALIASES = {
    "burmese": "my", "valencian": "ca", "flemish": "nl", "haitian": "ht", "letzeburgesch": "lb",
    "pushto": "ps", "panjabi": "pa", "moldavian": "ro", "moldovan": "ro", "sinhalese": "si",
    "castilian": "es", "mandarin": "zh", "farsi": "fa", "norwegian bokmal": "no",
    "filipino": "tl", "javanese": "jv",
}  # fmt: skip
_BY_NAME = {name: code for code, name in _WHISPER.items()} | _ALIASES
_CODES = set(_WHISPER) | {"jv"}


def language_code(value: str | None) -> str | None:
    """``"english"`` / ``"English"`` / ``"en"`` / ``"en-US"`` -> ``"en"``; None when unknown or empty.

    A code the table does not know is kept when it looks like one (two or three letters), so a
    service with more languages than Whisper still reports something usable.
    """
    if not value or not isinstance(value, str):
        return None
    text = " ".join(value.strip().lower().replace("_", "-").split())
    if not text:
        return None
    if text in _BY_NAME:
        return _BY_NAME[text]
    base = text.split("-")[0]
    if base in _CODES:
        return base
    if base.isascii() and base.isalpha() and 2 <= len(base) <= 3:
        return base
    return None
