//! Family records (name, help, type) shared by every run that has the family: a thousand targets hold one.

use super::*;

/// Interned family records, by name.
pub(crate) static FAMILIES: Mutex<Interner> = Mutex::new(Interner {
    map: None,
    len: 0,
    purge_at: 0,
});

pub(crate) struct Interner {
    /// Name → the records with that name (more than one only if help texts or types differ).
    pub(crate) map: Option<HashMap<Box<str>, Vec<Arc<FamilyMeta>>, foldhash::fast::RandomState>>,
    pub(crate) len: usize,
    /// Size at which records no longer held by any run are dropped.
    pub(crate) purge_at: usize,
}

/// The record of a family; `None` when there is none yet and `name` is not a valid metric name.
pub(crate) fn intern(name: &str, help: &str, kind: MetricKind) -> Option<Arc<FamilyMeta>> {
    let mut interner = FAMILIES.lock().unwrap_or_else(|e| e.into_inner());
    let Interner { map, len, purge_at } = &mut *interner;
    let map = map.get_or_insert_with(HashMap::default);
    if let Some(found) = map
        .get(name)
        .and_then(|v| v.iter().find(|m| m.kind == kind && &*m.help == help))
    {
        return Some(found.clone());
    }
    if !is_valid_metric_name(name) {
        return None;
    }
    if *len >= *purge_at {
        map.retain(|_, v| {
            v.retain(|m| Arc::strong_count(m) > 1);
            !v.is_empty()
        });
        *len = map.values().map(Vec::len).sum();
        *purge_at = (*len * 2).max(4096);
    }
    let meta = Arc::new(FamilyMeta {
        name: name.into(),
        help: help.into(),
        kind,
        om_total: openmetrics_sample_name(name, kind) != name,
    });
    map.entry(name.into()).or_default().push(meta.clone());
    *len += 1;
    Some(meta)
}
