"""Transcripts published as PDF, HTML or Word files: read as the text a reader sees, then parsed by the
layouts like a text file; a damaged or textless file is refused by name."""

from __future__ import annotations

import io
import textwrap
import zipfile
from pathlib import Path

import pytest

from rag.errors import TranscriptError
from rag.ingest import find_transcripts, read_transcript
from tests.conftest import SHARED_TRANSCRIPTS

DATA = Path(__file__).parent / "data"
ACME = DATA / "ACME_FY24Q2_en.txt"


def make_pdf(pages: list[list[str]]) -> bytes:
    """A PDF whose pages show these lines in Helvetica, one text line each (written by hand: no
    library here writes text into a PDF)."""
    objs: list[str] = ["<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    contents = []
    for lines in pages:
        ops = ["BT", "/F1 10 Tf", "14 TL", "50 780 Td"]
        for ln in lines:
            ln = ln.encode("ascii", "ignore").decode().replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(f"({ln}) Tj T*")
        stream = "\n".join(ops + ["ET"])
        objs.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream")
        contents.append(len(objs))
    parent = len(objs) + len(pages) + 1
    kids = []
    for c in contents:
        objs.append(f"<< /Type /Page /Parent {parent} 0 R /MediaBox [0 0 612 792] /Contents {c} 0 R "
                    f"/Resources << /Font << /F1 1 0 R >> >> >>")
        kids.append(len(objs))
    objs.append(f"<< /Type /Pages /Kids [{' '.join(f'{k} 0 R' for k in kids)}] /Count {len(kids)} >>")
    objs.append(f"<< /Type /Catalog /Pages {parent} 0 R >>")
    out, offsets = b"%PDF-1.4\n", []
    for i, o in enumerate(objs, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n{o}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    return out + f"trailer\n<< /Size {len(objs) + 1} /Root {len(objs)} 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()


def as_pdf(text: str, title: str, width: int = 90, per_page: int = 40) -> bytes:
    """`text` hard-wrapped as a PDF prints it, over pages with a running title and page numbers."""
    wrapped = [w for ln in text.splitlines() for w in (textwrap.wrap(ln, width) or [""])]
    chunks = [wrapped[i:i + per_page] for i in range(0, len(wrapped), per_page)]
    return make_pdf([[title, *lines, f"Page {n} of {len(chunks)}"] for n, lines in enumerate(chunks, 1)])


def as_docx(text: str) -> bytes:
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    body = "".join(f"<w:p><w:r><w:t>{ln.replace('&', '&amp;').replace('<', '&lt;')}</w:t></w:r></w:p>"
                   for ln in text.splitlines() if ln.strip())
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("word/document.xml", f'<?xml version="1.0"?><w:document xmlns:w="{w}"><w:body>{body}</w:body></w:document>')
    return out.getvalue()


def as_html(text: str) -> str:
    paragraphs = "".join(f"<p>{ln.replace('&', '&amp;').replace('<', '&lt;')}</p>" for ln in text.splitlines() if ln.strip())
    return (f"<html><head><title>Acme Q2 2024 Earnings Call</title><style>p {{color: red}}</style></head><body>"
            f"<script>var tracking = 'Revenue was $9 billion';</script>{paragraphs}</body></html>")


def _speakers(path: Path) -> list[tuple[str | None, str]]:
    return [(t.speaker.name, t.speaker.role) for t in read_transcript(path).turns]


@pytest.mark.parametrize("suffix", [".pdf", ".html", ".docx"])
def test_a_document_reads_as_its_text_file_does(tmp_path: Path, suffix: str) -> None:
    text = ACME.read_text()
    path = tmp_path / f"ACME_FY24Q2_en{suffix}"
    if suffix == ".pdf":
        path.write_bytes(as_pdf(text, "Acme Corp Q2 2024 Earnings Call Transcript", per_page=14))
    elif suffix == ".docx":
        path.write_bytes(as_docx(text))
    else:
        path.write_text(as_html(text))
    assert find_transcripts([tmp_path]) == [path]
    t = read_transcript(path)
    assert (t.meta.ticker, t.meta.period, t.meta.company) == ("ACME", "FY2024Q2", "Acme Corp")
    assert _speakers(path) == _speakers(ACME)
    assert "Revenue was $1.2 billion, up 12% year over year." in t.text
    # Not what a page repeats, nor a page's script.
    assert "Page 1 of" not in t.text and "Earnings Call Transcript\nAcme Corp Q2" not in t.text
    assert "$9 billion" not in t.text


def test_a_sentence_a_pdf_wraps_across_lines_and_pages_is_one_line_again(tmp_path: Path) -> None:
    text = ACME.read_text().replace(
        "Revenue was $1.2 billion, up 12% year over year.",
        "Revenue was $1.2 billion, up 12% year over year, as demand for the March quarter products held up "
        "across every region we serve and every channel we sell through.")
    path = tmp_path / "ACME_FY24Q2_en.pdf"
    path.write_bytes(as_pdf(text, "Acme Corp Q2 2024", width=60, per_page=12))
    assert ("Revenue was $1.2 billion, up 12% year over year, as demand for the March quarter products held up "
            "across every region we serve and every channel we sell through.") in read_transcript(path).text


@pytest.mark.parametrize("name, raw, problem", [
    ("x.pdf", b"%PDF-1.4\nnot really a pdf", "not a readable PDF"),
    ("x.pdf", make_pdf([[], []]), "holds no text"),
    ("x.docx", b"PK\x03\x04 broken zip", "not a readable Word"),
])
def test_a_damaged_or_textless_document_is_refused_by_name(tmp_path: Path, name: str, raw: bytes, problem: str) -> None:
    path = tmp_path / name
    path.write_bytes(raw)
    with pytest.raises(TranscriptError) as e:
        read_transcript(path)
    assert str(path) in str(e.value) and problem in str(e.value)


@pytest.mark.integration
@pytest.mark.parametrize("doc", ["FIG_FY25Q3_en", "NVO_FY24Q4_en", "EQIX_FY22Q3_en", "SNOW_FY25Q4_en"])
def test_a_real_call_printed_to_pdf_reads_as_the_text_does(tmp_path: Path, doc: str) -> None:
    """Hard-wrapped, paged, headed and numbered as a PDF prints it (a fool.com layout, a StreetEvents
    one whose turns are parted by blank lines a PDF does not keep): the same speakers, turn by turn."""
    src = SHARED_TRANSCRIPTS / f"{doc}.txt"
    if not src.is_file():
        pytest.skip(f"{src} not present")
    path = tmp_path / f"{doc}.pdf"
    path.write_bytes(as_pdf(src.read_text(), f"{doc} earnings call transcript", width=95, per_page=55))
    pdf, txt = read_transcript(path), read_transcript(src)
    assert (pdf.meta.ticker, pdf.meta.period) == (txt.meta.ticker, txt.meta.period)
    assert _speakers(path) == _speakers(src)


def test_whatever_the_pdf_parser_raises_is_the_files_problem(tmp_path: Path) -> None:
    # Arrays nested past the recursion limit: pypdf raises RecursionError, which must not stop a build.
    deep = "[" * 3000 + "]" * 3000
    raw = make_pdf([["Revenue was $1 billion."]]).replace(b"/MediaBox [0 0 612 792]", f"/MediaBox {deep}".encode(), 1)
    path = tmp_path / "deep.pdf"
    path.write_bytes(raw)
    try:
        read_transcript(path)
    except TranscriptError as e:
        assert str(path) in str(e)


def test_html_without_a_closing_head_tag_keeps_its_body_and_table_cells_apart() -> None:
    from rag.ingest.documents import html_text

    text = html_text("<html><head><title>Call</title><body><table><tr><td>Jane Roe</td><td>Revenue was $5 billion."
                     "</td></tr></table><svg><title>chart</title></svg></body></html>")
    assert "Jane Roe\n\nRevenue was $5 billion." in text and text.startswith("Call\n") and "chart" not in text


def test_a_declared_charset_is_read_as_declared(tmp_path: Path) -> None:
    path = tmp_path / "ACME_FY24Q2_en.html"
    path.write_bytes(as_html(ACME.read_text().replace("Jane Roe", "Jane O\u2019Roe")).replace(
        "<head>", '<head><meta charset="windows-1252">').encode("cp1252", "replace"))
    assert "Jane O\u2019Roe" in read_transcript(path).text


def test_a_word_text_box_is_read_once() -> None:
    from rag.ingest.documents import docx_text

    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    mc = "http://schemas.openxmlformats.org/markup-compatibility/2006"
    box = "<w:p><w:r><w:t>Boxed line</w:t></w:r></w:p>"
    xml = (f'<w:document xmlns:w="{w}" xmlns:mc="{mc}"><w:body><w:p><w:r><w:t>Outer </w:t></w:r>'
           f"<mc:AlternateContent><mc:Choice><w:txbxContent>{box}</w:txbxContent></mc:Choice>"
           f"<mc:Fallback><w:txbxContent>{box}</w:txbxContent></mc:Fallback></mc:AlternateContent></w:p>"
           "</w:body></w:document>")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("word/document.xml", xml)
    text = docx_text(out.getvalue(), "x.docx")
    assert text.count("Boxed line") == 1 and "Outer" in text
