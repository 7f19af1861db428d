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

/// Interned lists of family records, by the records' addresses.
static LISTS: Mutex<ListInterner> = Mutex::new(ListInterner {
    map: None,
    len: 0,
    purge_at: 0,
});

/// A run's family records, in name order.
type MetaList = Arc<[Arc<FamilyMeta>]>;

struct ListInterner {
    /// A hash of the records' addresses → the lists with that hash.
    map: Option<HashMap<u64, Vec<MetaList>, foldhash::fast::FixedState>>,
    len: usize,
    /// Size at which lists no longer held by any run are dropped.
    purge_at: usize,
}

/// One shared list of the records `metas`: every run of the same families holds the same list. Records are
/// interned, so equal lists are lists of the same addresses; a list holds its records, so an address cannot
/// be reused while a list of it is kept here.
pub(crate) fn intern_list(metas: Vec<Arc<FamilyMeta>>) -> MetaList {
    use std::hash::{BuildHasher, Hasher};
    let key = {
        let mut h = foldhash::fast::FixedState::default().build_hasher();
        for m in &metas {
            h.write_usize(Arc::as_ptr(m) as usize);
        }
        h.finish()
    };
    let mut interner = LISTS.lock().unwrap_or_else(|e| e.into_inner());
    let ListInterner { map, len, purge_at } = &mut *interner;
    let map = map.get_or_insert_with(HashMap::default);
    let same = |list: &MetaList| {
        list.len() == metas.len() && list.iter().zip(&metas).all(|(a, b)| Arc::ptr_eq(a, b))
    };
    if let Some(found) = map
        .get(&key)
        .and_then(|lists| lists.iter().find(|l| same(l)))
    {
        return found.clone();
    }
    if *len >= *purge_at {
        map.retain(|_, lists| {
            lists.retain(|l| Arc::strong_count(l) > 1);
            !lists.is_empty()
        });
        *len = map.values().map(Vec::len).sum();
        *purge_at = (*len * 2).max(1024);
    }
    let list: MetaList = metas.into();
    map.entry(key).or_default().push(list.clone());
    *len += 1;
    list
}
