//! sosdesk branding: the names an end user sees in the `sos` app.
//!
//! This build knows only the generic branding: the app asks for the gateway address and
//! shows the product name below. Branded builds (preset gateway, certificate pins, colours,
//! logo, signature) extend this schema; until then `build.rs` refuses `SOS_BRANDING` rather
//! than silently ignoring it.

#![forbid(unsafe_code)]

/// What the end-user app is called and who runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Branding {
    /// Product name shown in titles and prompts.
    pub product_name: &'static str,
    /// Gateway address baked into the app; `None` in the generic app, which asks for it.
    pub gateway: Option<&'static str>,
}

impl Branding {
    /// The generic, unbranded app.
    pub const GENERIC: Branding = Branding {
        product_name: "sosdesk",
        gateway: None,
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generic_app_has_no_preset_gateway() {
        assert_eq!(Branding::GENERIC.gateway, None);
        assert!(!Branding::GENERIC.product_name.is_empty());
    }
}
