# The memory bus keeps events in the process that published them, so in development the relay
# and the consumer run in one process: python manage.py shell --no-imports < relay_and_consume.py
from django.core.management import call_command

call_command("consume_events", "--declare-only")  # the consumer group's queues, before the relay
call_command("relay_outbox", "--once")  # publish what the outbox holds
call_command("consume_events", "--idle-timeout", "0.5")  # handle it; stop once the bus is quiet
