"""The documents a fault run uploads and the outcome each must give (../shared/corpus/README.md).

An outcome is ``completed``, ``failed:<reason>``, ``cancelled`` or ``refused`` (a 4xx answer to
the upload); ``failed:*`` accepts any reason.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Sample:
    key: str  # names the file and how it is sent (e.g. "pdf/password-example.pdf#no-password")
    filename: str
    data: bytes
    outcomes: frozenset[str]
    weight: int
    phrase: str | None = None
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def completes(self) -> bool:
        return self.outcomes == {"completed"}

    def allows(self, outcome: str) -> bool:
        if outcome in self.outcomes:
            return True
        return outcome.startswith("failed:") and "failed:*" in self.outcomes


def _words(rng: random.Random, count: int) -> str:
    vocabulary = [
        "the",
        "of",
        "and",
        "a",
        "to",
        "in",
        "is",
        "you",
        "that",
        "it",
        "he",
        "was",
        "for",
        "on",
        "are",
        "as",
        "with",
        "his",
        "they",
        "at",
        "be",
        "this",
        "have",
        "from",
        "or",
        "one",
        "had",
        "by",
        "word",
        "but",
        "not",
        "what",
        "all",
        "were",
        "we",
        "when",
        "your",
        "can",
        "said",
        "there",
        "use",
        "an",
        "each",
        "which",
        "she",
        "do",
        "how",
        "their",
        "if",
        "will",
        "up",
        "other",
        "about",
        "out",
        "many",
        "then",
        "them",
        "these",
        "so",
        "some",
        "her",
        "would",
        "make",
        "like",
        "him",
        "into",
        "time",
        "has",
        "look",
        "two",
        "more",
        "write",
        "go",
        "see",
        "number",
        "no",
        "way",
        "could",
        "people",
        "river",
        "harbour",
        "council",
        "budget",
        "meeting",
        "transport",
        "bicycle",
        "network",
        "winter",
        "report",
    ]
    lines = []
    for _ in range(count // 12):
        sentence = " ".join(rng.choice(vocabulary) for _ in range(12))
        lines.append(sentence.capitalize() + ".")
    return "\n".join(lines) + "\n"


def build(corpus: Path, *, heavy: bool = True) -> list[Sample]:
    """The mix, weighted roughly as a user's uploads: many small files, a few large or hostile.

    ``heavy`` adds the 65-page PDF and the OCR files (slow on two cores).
    """

    def read(rel: str) -> bytes:
        return (corpus / rel).read_bytes()

    completed = frozenset({"completed"})
    samples: list[Sample] = []

    def pdf(rel: str, weight: int, phrase: str | None = None) -> None:
        samples.append(Sample(rel, Path(rel).name, read(rel), completed, weight, phrase))

    pdf("pdf/scotus-transcript-p1.pdf", 10, "Official - Subject to Final")
    pdf("pdf/issue-33-lorem-ipsum.pdf", 8, "Voluptatem")
    pdf("pdf/senate-expenditures.pdf", 6, "PAYEE NAME")
    pdf("pdf/table-curves-example.pdf", 5, "very rare")
    pdf("pdf/nics-background-checks-2015-11-rotated.pdf", 5, "Handgun")
    pdf("pdf/malformed-from-issue-932.pdf", 5, "2021")
    pdf("pdf/federal-register-2020-17221.pdf", 6, "FEDERAL REGISTER")
    password = "pdf/password-example.pdf"
    samples.append(
        Sample(
            f"{password}#no-password",
            "password-example.pdf",
            read(password),
            frozenset({"failed:encrypted"}),
            4,
        )
    )
    samples.append(
        Sample(
            f"{password}#password",
            "password-example.pdf",
            read(password),
            completed,
            3,
            "Backup4all",
            {"password": "test"},
        )
    )
    samples.append(
        Sample("pdf/empty.pdf", "empty.pdf", read("pdf/empty.pdf"), frozenset({"refused"}), 3)
    )
    for rel in (
        "docx/test.docx",
        "docx/blk-paras-and-tables.docx",
        "docx/par-known-paragraphs.docx",
        "docx/hdr-header-footer.docx",
        "docx/comments-rich-para.docx",
        "docx/tbl-having-tables.docx",
        "docx/having-images.docx",
    ):
        samples.append(Sample(rel, Path(rel).name, read(rel), completed, 3))
    rng = random.Random(7)  # the generated files are the same in every run
    for n, words in enumerate((120, 900, 4000), start=1):
        text = _words(rng, words).encode()
        samples.append(Sample(f"generated/text-{n}.txt", f"notes-{n}.txt", text, completed, 4))
    for n in (1, 2):
        # Garbage that claims to be a PDF: fails (corrupt/unsupported) or is refused, never hangs.
        junk = (b"%PDF-1.7\n" if n == 1 else b"") + rng.randbytes(20_000 * n)
        samples.append(
            Sample(
                f"generated/garbage-{n}.pdf",
                f"garbage-{n}.pdf",
                junk,
                frozenset({"failed:*", "refused"}),
                2,
            )
        )
    if heavy:
        pdf("pdf/chelsea_pdta.pdf", 1, "Plan directeur de transport actif")
        pdf("pdf/francais.pdf", 1, "Portez ce vieux whisky au juge")
        pdf("pdf/truetype_font_nomapping.pdf", 1, "Phone")
        pdf("pdf/multipage.pdf", 1, "throne of England")
    return samples


def plan(
    samples: list[Sample], count: int, rng: random.Random, *, cancel_share: float
) -> list[tuple[Sample, bool]]:
    """``count`` uploads drawn by weight, each distinct sample at least once when room allows;
    a share of the ones that would complete is cancelled by the client soon after upload."""
    chosen = list(samples) if count >= 2 * len(samples) else []
    chosen += rng.choices(samples, weights=[s.weight for s in samples], k=count - len(chosen))
    rng.shuffle(chosen)
    return [(s, s.completes and rng.random() < cancel_share) for s in chosen]
