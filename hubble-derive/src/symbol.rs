//! Every attribute key, named once.

pub const HUBBLE: &str = "hubble";
pub const METRIC: &str = "metric";

// Container keys: #[hubble(...)]
pub const QUERY: &str = "query";
pub const PREFIX: &str = "prefix";
pub const NAME: &str = "name";
pub const INTERVAL: &str = "interval";
pub const TIMEOUT: &str = "timeout";
pub const CONST_LABELS: &str = "const_labels";
pub const MIN_VERSION: &str = "min_version";
pub const MAX_VERSION: &str = "max_version";
pub const TARGET_ROLE: &str = "role";
pub const PER_DATABASE: &str = "per_database";
pub const SIMPLE_QUERY: &str = "simple_query";
pub const NAMES_AS_DECLARED: &str = "names_as_declared";
/// Keys that take no value.
pub const FLAG_KEYS: &[&str] = &[PER_DATABASE, SIMPLE_QUERY, NAMES_AS_DECLARED];
pub const CONTAINER_KEYS: &[&str] = &[
    QUERY,
    PREFIX,
    NAME,
    INTERVAL,
    TIMEOUT,
    CONST_LABELS,
    MIN_VERSION,
    MAX_VERSION,
    TARGET_ROLE,
    PER_DATABASE,
    NAMES_AS_DECLARED,
    SIMPLE_QUERY,
];

// Field keys: #[metric(...)]
pub const COUNTER: &str = "counter";
pub const GAUGE: &str = "gauge";
pub const UNTYPED: &str = "untyped";
pub const HISTOGRAM: &str = "histogram";
pub const LABEL: &str = "label";
pub const SKIP: &str = "skip";
pub const FAMILY_NAME: &str = "family_name";
pub const FAMILY_HELP: &str = "family_help";
pub const RENAME: &str = "rename";
pub const HELP: &str = "help";
pub const FIELD_KEYS: &[&str] = &[
    COUNTER,
    GAUGE,
    UNTYPED,
    HISTOGRAM,
    LABEL,
    FAMILY_NAME,
    FAMILY_HELP,
    SKIP,
    RENAME,
    HELP,
];
