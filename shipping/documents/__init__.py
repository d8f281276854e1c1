"""Printable documents: shipping labels, tax invoices, manifests and packing slips, rendered to PDF.

- ``data``: what each document shows: the querysets that load it and a plain, JSON-able *context* per kind, and
  ``data_checksum`` over them (an unchanged reprint reuses the stored PDF).
- ``gst``: the GST rules of invoices: state codes, place of supply, intra- or inter-state, CGST + SGST or IGST.
- ``barcodes``: Code128 bars at whole dots of a 203 dpi printer.
- ``render``: the PDFs: labels drawn on a ReportLab canvas, the other kinds from templates by WeasyPrint.

Nothing here writes to the database: the document jobs and invoice numbers are ``shipping.services.documents``.
"""
