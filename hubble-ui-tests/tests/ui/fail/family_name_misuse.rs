/// One family per row needs exactly one value field.
#[derive(hubble::MetricGroup)]
#[hubble(prefix = "vars")]
struct TwoValues {
    #[metric(family_name)]
    name: String,
    /// A value.
    #[metric(gauge)]
    value: f64,
    /// Another.
    #[metric(gauge)]
    other: f64,
}

/// A row's help needs a row's family.
#[derive(hubble::MetricGroup)]
#[hubble(prefix = "vars")]
struct HelpWithoutName {
    #[metric(family_help)]
    description: String,
    /// A value.
    #[metric(gauge)]
    value: f64,
}

/// The family is named by the field's value, not by its name.
#[derive(hubble::MetricGroup)]
#[hubble(prefix = "vars")]
struct Renamed {
    #[metric(family_name, rename = "variable")]
    name: String,
    /// A value.
    #[metric(gauge)]
    value: f64,
}

/// Without a help column, the value field's doc comment is every family's help.
#[derive(hubble::MetricGroup)]
#[hubble(prefix = "vars")]
struct NoHelp {
    #[metric(family_name)]
    name: String,
    #[metric(gauge)]
    value: f64,
}

fn main() {}
