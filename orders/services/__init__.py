"""Every write of orders, by subdomain: ``channels``, ``prepare`` (an order's input checked and priced),
``create`` (the one writer of new orders), ``orders`` (the state machine and edits) and ``returns``.
Callers import the module that owns what they call."""
