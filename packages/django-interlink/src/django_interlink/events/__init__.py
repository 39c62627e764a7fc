"""Events: contracts, buses (memory, RabbitMQ, Redis), the transactional outbox and the inbox.

Producers call `outbox.outbox_enqueue(event_type, data, correlation_id=...)` inside their
transaction; `outbox.outbox_relay()` publishes; consumers run `manage.py consume_events`.
Import what you need from its module: this package exports nothing, so importing it (system
checks do, from AppConfig.ready()) costs nothing.

Layers, each importing only from the layers below it (`|`: independent of each other):

    checks | admin                       system checks; the outbox and inbox in the admin
    dead_letter_admin                    the admin's dead-letter page
    outbox | retention | dead_letter_service
                                         the transactional outbox and its relay; Redis
                                         streams trimmed to what their groups still need;
                                         dead-letter operations (the command's and the admin's)
    backends                             which bus: the backend table, get_bus(), build_bus()
    memory | rabbitmq | redis_streams | redis_pubsub
                                         the buses
    rabbitmq_dead_letters | redis_stream_run, rabbitmq_settle | redis_dead_letters,
    rabbitmq_publisher | rabbitmq_topology | rabbitmq_nodes | redis_base
                                         what one broker's bus is built from (rabbitmq_nodes:
                                         the nodes of RABBITMQ_URL, parsed once)
    bus | window, budget | dead_letters  the EventBus interface; when a consume loop stops;
                                         a group's dead letters (DeadLetterBox)
    consumer                             a message's fate: the exception steers the outcome
    inbox | outcomes                     a handler's effect and its record, in one transaction;
                                         which failure earns which outcome
    handlers | contract | infrastructure | trace_context
                                         handlers by event type; the event contracts; whose
                                         failure it is, and the consumer's breaker; the
                                         publish and process spans around each event
    envelope | crash | redis_connection | publish_outcomes
                                         what every event looks like; the consumers' crash
                                         points for tests; where the Redis buses connect;
                                         what publish_results says of an event not taken

The modules from inbox upwards use the ORM; handlers, contract and envelope load no models.
"""
