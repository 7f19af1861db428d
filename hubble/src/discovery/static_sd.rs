//! A fixed list of services, given in code or from flags.

use super::{DiscoveryError, Service, ServiceLister};

/// Always lists the same services.
#[derive(Debug, Clone, Default)]
pub struct StaticServices(pub Vec<Service>);

impl ServiceLister for StaticServices {
    fn backend(&self) -> &'static str {
        "static"
    }

    async fn list(&self) -> Result<Vec<Service>, DiscoveryError> {
        Ok(self.0.clone())
    }
}
