"""Outbound webhooks: partners' endpoints, the outbox of deliveries, signed POSTs with retries, the delivery log."""
