//! The SNS-like pub/sub broker. So far it holds its filter policies ([`filter`]), which
//! the `[[pubsub]]` topics and their subscriptions will evaluate on every publish.

pub mod filter;
