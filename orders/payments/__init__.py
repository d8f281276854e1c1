"""Payment gateways: what each one's webhooks say, verified and read into one shape (``GatewayEvent``).

One pure module per gateway (``razorpay``, ``stripe``): signature verification with the official SDK's offline
helpers, and the mapping of the gateway's event to a ``GatewayEvent``. No database, no network: the services that
record payments and refunds build on these.
"""
