"""File imports of orders, products and inventory: the service behind /imports/, the admin and ``import_file``.

``parse`` reads a CSV or XLSX file as a stream and groups an orders file's rows into orders; ``validate``
converts their cells with the fields' own rules (``orders/validation.py``); ``write`` runs an orders job chunk by
chunk through the one order writer (``orders.services.create``); ``products`` runs the product and inventory
jobs; ``jobs`` creates, runs and watches the jobs (``progress``: their counters and row errors).
Callers import the module that owns what they call.
"""
