//! The RabbitMQ-like broker: exchanges and the queues they route to. [`routing`] decides
//! which queues receive a published message, as rabbitmq-server's exchange types,
//! exchange-to-exchange bindings and alternate exchanges do; [`exchange`] publishes:
//! a copy to each queue a route reaches, the unroutable counted. [`queue`] is a
//! RabbitMQ queue's bookkeeping (order, requeue, TTL, length and delivery limits),
//! pure and tested; [`consume`] drives it in the engine: push to consumers up to their
//! prefetch, acknowledgements, requeues, dead-lettering through an exchange.

pub mod consume;
pub mod exchange;
pub mod queue;
pub mod routing;
