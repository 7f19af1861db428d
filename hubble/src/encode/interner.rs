//! Family records (name, help, type) shared by every run that has the family: a thousand targets hold one.

use std::borrow::Cow;

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
        headers: Default::default(),
    });
    map.entry(name.into()).or_default().push(meta.clone());
    *len += 1;
    Some(meta)
}

/// [`intern`], found without the lock or reading the strings when both are static (a derived group's
/// families, every run): by their addresses, in a table of the calling thread. Interning showed in profiles
/// of collection (a lock, a hash of the name and comparisons of name and help, per family and run).
// `&Cow`, not `&str`: whether it is borrowed is what says the string is static.
#[allow(clippy::ptr_arg)]
pub(crate) fn intern_cow(
    name: &Cow<'static, str>,
    help: &Cow<'static, str>,
    kind: MetricKind,
) -> Option<Arc<FamilyMeta>> {
    type Key = (usize, usize, usize, usize, MetricKind);
    thread_local! {
        static BY_ADDRESS: std::cell::RefCell<HashMap<Key, Arc<FamilyMeta>, foldhash::fast::FixedState>> =
            std::cell::RefCell::new(HashMap::default());
    }
    let (Cow::Borrowed(n), Cow::Borrowed(h)) = (name, help) else {
        return intern(name, help, kind);
    };
    // A `&'static str` is never freed, so its address names it for the process's life; the table holds
    // each record, so the interner keeps it too.
    let key = (
        n.as_ptr() as usize,
        n.len(),
        h.as_ptr() as usize,
        h.len(),
        kind,
    );
    if let Some(found) = BY_ADDRESS.with_borrow(|map| map.get(&key).cloned()) {
        return Some(found);
    }
    let meta = intern(n, h, kind)?;
    BY_ADDRESS.with_borrow_mut(|map| map.insert(key, meta.clone()));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_static_family_is_found_by_address_as_the_interner_has_it() {
        let (name, help) = ("interner_test_total", "Help of a test family.");
        let by_address = intern_cow(
            &Cow::Borrowed(name),
            &Cow::Borrowed(help),
            MetricKind::Counter,
        );
        let by_address = by_address.expect("a valid name");
        let again = intern_cow(
            &Cow::Borrowed(name),
            &Cow::Borrowed(help),
            MetricKind::Counter,
        );
        let owned = intern_cow(
            &Cow::Owned(name.to_owned()),
            &Cow::Owned(help.to_owned()),
            MetricKind::Counter,
        );
        let interned = intern(name, help, MetricKind::Counter);
        for other in [again, owned, interned] {
            assert!(Arc::ptr_eq(&by_address, &other.expect("a valid name")));
        }
        // Another type is another record; an invalid name none, whichever way it is asked.
        let gauge = intern_cow(
            &Cow::Borrowed(name),
            &Cow::Borrowed(help),
            MetricKind::Gauge,
        );
        assert!(!Arc::ptr_eq(&by_address, &gauge.unwrap()));
        assert!(intern_cow(
            &Cow::Borrowed("0bad"),
            &Cow::Borrowed(help),
            MetricKind::Gauge
        )
        .is_none());
    }
}
