#!/usr/bin/env python3
"""Prints how ttconv (the IMSC reference reader, PyPI) reads a TTML file: [[begin_ms, end_ms, text,
italic, top], ...] for its paragraphs in document order, as JSON, and the problems its reader
logged (errors and warnings) as a second list. Used by the tests as the independent reader of TTML."""
import json
import logging
import sys
import xml.etree.ElementTree as et

from ttconv import model
from ttconv import style_properties as sp
import ttconv.imsc.reader as imsc_reader

problems = []


class Collect(logging.Handler):
    def emit(self, record):
        if record.levelno >= logging.WARNING:
            problems.append(record.getMessage())


logging.getLogger().addHandler(Collect())
logging.getLogger().setLevel(logging.WARNING)

doc = imsc_reader.to_model(et.parse(sys.argv[1]))


def offset(element):
    """The begin of the element's time container, summed up its ancestors (par containers)."""
    total = 0
    e = element.parent()
    while e is not None:
        if e.get_begin() is not None:
            total += e.get_begin()
        e = e.parent()
    return total


def text(element):
    out = ""
    for child in element:
        if isinstance(child, model.Br):
            out += "\n"
        elif isinstance(child, model.Text):
            out += child.get_text()
        else:
            out += text(child)
    return out


def italic(element):
    for child in element:
        if isinstance(child, model.Span) and child.get_style(sp.StyleProperties.FontStyle) == sp.FontStyleType.italic:
            return True
        if not isinstance(child, model.Text) and italic(child):
            return True
    return False


cues = []


def walk(element):
    for child in element:
        if isinstance(child, model.P):
            base = offset(child)
            begin = base + (child.get_begin() or 0)
            end = base + child.get_end() if child.get_end() is not None else None
            region = child.get_region() if child.get_region() is not None else child.parent().get_region()
            top = bool(region is not None and region.get_style(sp.StyleProperties.DisplayAlign) == sp.DisplayAlignType.before)
            cues.append([round(begin * 1000), None if end is None else round(end * 1000), text(child), italic(child), top])
        elif isinstance(child, (model.Div, model.Body)):
            walk(child)


body = doc.get_body()
if body is not None:
    walk(body)
json.dump([cues, problems], sys.stdout, ensure_ascii=False)
