//! The RabbitMQ-like broker: exchanges and the queues they route to. [`routing`] decides
//! which queues receive a published message, as rabbitmq-server's exchange types,
//! exchange-to-exchange bindings and alternate exchanges do; [`exchange`] publishes:
//! a copy to each queue a route reaches, the unroutable counted.

pub mod exchange;
pub mod routing;
