//! [`Value`] for the standard library's types (integers, floats, `bool`,
//! `char`, `()`, `String`, `PathBuf`, `Vec`, `Option`, `BTreeMap`,
//! `BTreeSet`, tuples), and the helpers behind `serde_value!`.

use super::*;

pub(super) fn take<'a, T>(input: &mut &'a [u8], n: usize) -> Result<&'a [u8], ValueError> {
    if input.len() < n {
        return Err(ValueError::decode::<T>(format!(
            "needed {n} more bytes, found {}",
            input.len()
        )));
    }
    let (head, rest) = input.split_at(n);
    *input = rest;
    Ok(head)
}

pub(super) fn encode_len(len: usize, out: &mut Vec<u8>) {
    out.extend_from_slice(&(len as u64).to_le_bytes());
}

pub(super) fn decode_len<T>(input: &mut &[u8]) -> Result<usize, ValueError> {
    let bytes = take::<T>(input, 8)?;
    let len = u64::from_le_bytes(bytes.try_into().expect("8 bytes"));
    usize::try_from(len).map_err(|_| ValueError::decode::<T>("length overflows usize"))
}

macro_rules! fixed_width_values {
    ($($ty:ty),* $(,)?) => {$(
        impl Value for $ty {
            fn encode(&self, out: &mut Vec<u8>) -> Result<(), ValueError> {
                out.extend_from_slice(&self.to_le_bytes());
                Ok(())
            }
            fn decode(input: &mut &[u8]) -> Result<Self, ValueError> {
                let bytes = take::<$ty>(input, std::mem::size_of::<$ty>())?;
                Ok(<$ty>::from_le_bytes(bytes.try_into().expect("exact width")))
            }
            fn type_name() -> String {
                stringify!($ty).to_owned()
            }
            fn render(&self) -> Option<String> {
                Some(format!("{self:?}"))
            }
            fn schema() -> Result<Fingerprint, ValueError> {
                Ok(crate::schema::named(stringify!($ty)))
            }
            text_forms!(number);
        }
    )*};
}

fixed_width_values!(i8, i16, i32, i64, i128, u8, u16, u32, u64, u128, f32, f64);

impl Value for usize {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ValueError> {
        (*self as u64).encode(out)
    }
    fn decode(input: &mut &[u8]) -> Result<Self, ValueError> {
        usize::try_from(u64::decode(input)?).map_err(ValueError::decode::<usize>)
    }
    fn type_name() -> String {
        "usize".to_owned()
    }
    fn render(&self) -> Option<String> {
        Some(format!("{self:?}"))
    }
    fn schema() -> Result<Fingerprint, ValueError> {
        Ok(crate::schema::named("usize"))
    }
    text_forms!(number);
}

impl Value for isize {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ValueError> {
        (*self as i64).encode(out)
    }
    fn decode(input: &mut &[u8]) -> Result<Self, ValueError> {
        isize::try_from(i64::decode(input)?).map_err(ValueError::decode::<isize>)
    }
    fn type_name() -> String {
        "isize".to_owned()
    }
    fn render(&self) -> Option<String> {
        Some(format!("{self:?}"))
    }
    fn schema() -> Result<Fingerprint, ValueError> {
        Ok(crate::schema::named("isize"))
    }
    text_forms!(number);
}

impl Value for bool {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ValueError> {
        out.push(u8::from(*self));
        Ok(())
    }
    fn decode(input: &mut &[u8]) -> Result<Self, ValueError> {
        match take::<bool>(input, 1)?[0] {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(ValueError::decode::<bool>(format!(
                "byte {other} is not 0 or 1"
            ))),
        }
    }
    fn type_name() -> String {
        "bool".to_owned()
    }
    fn render(&self) -> Option<String> {
        Some(format!("{self:?}"))
    }
    fn schema() -> Result<Fingerprint, ValueError> {
        Ok(crate::schema::named("bool"))
    }
    text_forms!(from_str "true", Bool, |json: &Json| match json {
        Json::Bool(b) => Ok(*b),
        other => Err(format!("expected true or false, found {other}")),
    });
}

impl Value for char {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ValueError> {
        (*self as u32).encode(out)
    }
    fn decode(input: &mut &[u8]) -> Result<Self, ValueError> {
        let code = u32::decode(input)?;
        char::from_u32(code)
            .ok_or_else(|| ValueError::decode::<char>(format!("{code:#x} is not a char")))
    }
    fn type_name() -> String {
        "char".to_owned()
    }
    fn render(&self) -> Option<String> {
        Some(format!("{self:?}"))
    }
    fn schema() -> Result<Fingerprint, ValueError> {
        Ok(crate::schema::named("char"))
    }
    text_forms!(from_str "x", String, |json: &Json| {
        text::string_from_json(json).and_then(text::parse_str)
    });
}

impl Value for () {
    fn encode(&self, _out: &mut Vec<u8>) -> Result<(), ValueError> {
        Ok(())
    }
    fn decode(_input: &mut &[u8]) -> Result<Self, ValueError> {
        Ok(())
    }
    fn type_name() -> String {
        "()".to_owned()
    }
    fn render(&self) -> Option<String> {
        Some(format!("{self:?}"))
    }
    fn schema() -> Result<Fingerprint, ValueError> {
        Ok(crate::schema::named("()"))
    }
    text_forms!(unit);
}

impl Value for String {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ValueError> {
        encode_len(self.len(), out);
        out.extend_from_slice(self.as_bytes());
        Ok(())
    }
    fn decode(input: &mut &[u8]) -> Result<Self, ValueError> {
        let len = decode_len::<String>(input)?;
        let bytes = take::<String>(input, len)?;
        String::from_utf8(bytes.to_vec()).map_err(ValueError::decode::<String>)
    }
    fn type_name() -> String {
        "String".to_owned()
    }
    fn render(&self) -> Option<String> {
        Some(format!("{self:?}"))
    }
    fn schema() -> Result<Fingerprint, ValueError> {
        Ok(crate::schema::named("String"))
    }
    text_forms!(string "text", str::to_owned, String::clone);
}

/// A path's encoding and fingerprint are the path as written. It names
/// itself as an external file, so the runtime looks at the file (or
/// directory) on every submit and a node holding the path stands for the
/// file's content too (see [`Value::external_files`]).
impl Value for PathBuf {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ValueError> {
        let text = self.to_str().ok_or_else(|| {
            ValueError::encode::<PathBuf>(format!("{} is not valid UTF-8", self.display()))
        })?;
        text.to_owned().encode(out)
    }
    fn decode(input: &mut &[u8]) -> Result<Self, ValueError> {
        Ok(PathBuf::from(String::decode(input)?))
    }
    fn type_name() -> String {
        "PathBuf".to_owned()
    }
    fn render(&self) -> Option<String> {
        Some(format!("{self:?}"))
    }
    fn schema() -> Result<Fingerprint, ValueError> {
        Ok(crate::schema::named("PathBuf"))
    }
    fn names_files() -> bool {
        true
    }
    fn external_files<'a>(&'a self, out: &mut Vec<&'a Path>) {
        out.push(self);
    }
    text_forms!(path "data/input.csv");
}

impl<T: Value> Value for Vec<T> {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ValueError> {
        encode_len(self.len(), out);
        self.iter().try_for_each(|item| item.encode(out))
    }
    fn decode(input: &mut &[u8]) -> Result<Self, ValueError> {
        let len = decode_len::<Self>(input)?;
        // A corrupt length must not allocate absurd amounts up front.
        let mut items = Vec::with_capacity(len.min(input.len()));
        for _ in 0..len {
            items.push(T::decode(input)?);
        }
        Ok(items)
    }
    fn type_name() -> String {
        format!("Vec<{}>", T::type_name())
    }
    fn render(&self) -> Option<String> {
        render_seq("[", self.iter().map(T::render), "]")
    }
    fn schema() -> Result<Fingerprint, ValueError> {
        crate::schema::composite("Vec", &[T::schema()?])
    }
    fn names_files() -> bool {
        T::names_files()
    }
    fn external_files<'a>(&'a self, out: &mut Vec<&'a Path>) {
        if T::names_files() {
            self.iter().for_each(|item| item.external_files(out));
        }
    }
    text_forms!(sequence T);
}

impl<T: Value> Value for Option<T> {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ValueError> {
        match self {
            None => {
                out.push(0);
                Ok(())
            }
            Some(value) => {
                out.push(1);
                value.encode(out)
            }
        }
    }
    fn decode(input: &mut &[u8]) -> Result<Self, ValueError> {
        match take::<Self>(input, 1)?[0] {
            0 => Ok(None),
            1 => Ok(Some(T::decode(input)?)),
            other => Err(ValueError::decode::<Self>(format!(
                "tag {other} is not 0 or 1"
            ))),
        }
    }
    fn type_name() -> String {
        format!("Option<{}>", T::type_name())
    }
    fn schema() -> Result<Fingerprint, ValueError> {
        crate::schema::composite("Option", &[T::schema()?])
    }
    fn names_files() -> bool {
        T::names_files()
    }
    fn external_files<'a>(&'a self, out: &mut Vec<&'a Path>) {
        if let Some(value) = self {
            value.external_files(out);
        }
    }
    fn render(&self) -> Option<String> {
        match self {
            None => Some("None".to_owned()),
            Some(value) => Some(format!("Some({})", value.render()?)),
        }
    }
    text_forms!(option T);
}

impl<K: Value + Ord, V: Value> Value for BTreeMap<K, V> {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ValueError> {
        encode_len(self.len(), out);
        for (key, value) in self {
            key.encode(out)?;
            value.encode(out)?;
        }
        Ok(())
    }
    fn decode(input: &mut &[u8]) -> Result<Self, ValueError> {
        let len = decode_len::<Self>(input)?;
        let mut map = BTreeMap::new();
        for _ in 0..len {
            let key = K::decode(input)?;
            map.insert(key, V::decode(input)?);
        }
        Ok(map)
    }
    fn type_name() -> String {
        format!("BTreeMap<{}, {}>", K::type_name(), V::type_name())
    }
    fn schema() -> Result<Fingerprint, ValueError> {
        crate::schema::composite("BTreeMap", &[K::schema()?, V::schema()?])
    }
    fn names_files() -> bool {
        K::names_files() || V::names_files()
    }
    fn external_files<'a>(&'a self, out: &mut Vec<&'a Path>) {
        for (key, value) in self {
            key.external_files(out);
            value.external_files(out);
        }
    }
    fn render(&self) -> Option<String> {
        let entries = self
            .iter()
            .map(|(k, v)| Some(format!("{}: {}", k.render()?, v.render()?)));
        render_seq("{", entries, "}")
    }
    text_forms!(map K, V);
}

impl<T: Value + Ord> Value for BTreeSet<T> {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ValueError> {
        encode_len(self.len(), out);
        self.iter().try_for_each(|item| item.encode(out))
    }
    fn decode(input: &mut &[u8]) -> Result<Self, ValueError> {
        let len = decode_len::<Self>(input)?;
        (0..len).map(|_| T::decode(input)).collect()
    }
    fn type_name() -> String {
        format!("BTreeSet<{}>", T::type_name())
    }
    fn schema() -> Result<Fingerprint, ValueError> {
        crate::schema::composite("BTreeSet", &[T::schema()?])
    }
    fn names_files() -> bool {
        T::names_files()
    }
    fn external_files<'a>(&'a self, out: &mut Vec<&'a Path>) {
        self.iter().for_each(|item| item.external_files(out));
    }
    fn render(&self) -> Option<String> {
        render_seq("{", self.iter().map(T::render), "}")
    }
    text_forms!(sequence T);
}

macro_rules! tuple_values {
    ($(($($name:ident),+)),* $(,)?) => {$(
        impl<$($name: Value),+> Value for ($($name,)+) {
            #[allow(non_snake_case)]
            fn encode(&self, out: &mut Vec<u8>) -> Result<(), ValueError> {
                let ($($name,)+) = self;
                $($name.encode(out)?;)+
                Ok(())
            }
            fn decode(input: &mut &[u8]) -> Result<Self, ValueError> {
                Ok(($($name::decode(input)?,)+))
            }
            fn type_name() -> String {
                let names: Vec<String> = vec![$($name::type_name()),+];
                if names.len() == 1 {
                    format!("({},)", names[0])
                } else {
                    format!("({})", names.join(", "))
                }
            }
            fn schema() -> Result<Fingerprint, ValueError> {
                crate::schema::composite("tuple", &[$($name::schema()?),+])
            }
            fn names_files() -> bool {
                false $(|| $name::names_files())+
            }
            #[allow(non_snake_case)]
            fn external_files<'a>(&'a self, out: &mut Vec<&'a Path>) {
                let ($($name,)+) = self;
                $($name.external_files(out);)+
            }
            #[allow(non_snake_case)]
            fn render(&self) -> Option<String> {
                let ($($name,)+) = self;
                let items: Vec<String> = vec![$($name.render()?),+];
                Some(if items.len() == 1 {
                    format!("({},)", items[0])
                } else {
                    format!("({})", items.join(", "))
                })
            }
            text_forms!(tuple $($name),+);
        }
    )*};
}

tuple_values!((A), (A, B), (A, B, C), (A, B, C, D));

/// Joins rendered items between `open` and `close`; `None` if any item has no rendering.
pub(super) fn render_seq(
    open: &str,
    items: impl Iterator<Item = Option<String>>,
    close: &str,
) -> Option<String> {
    let items: Option<Vec<String>> = items.collect();
    Some(format!("{open}{}{close}", items?.join(", ")))
}

/// Renders a serde value as compact JSON; the [`Value::render`] of
/// [`serde_value!`](crate::serde_value) types.
pub fn render_serde<T: serde::Serialize>(value: &T) -> Option<String> {
    serde_json::to_string(value).ok()
}

/// Encodes a serde value canonically (postcard, length-prefixed); the helper behind
/// [`serde_value!`](crate::serde_value).
pub fn encode_serde<T: serde::Serialize>(value: &T, out: &mut Vec<u8>) -> Result<(), ValueError> {
    let bytes = postcard::to_allocvec(value).map_err(|e| ValueError::encode::<T>(e))?;
    encode_len(bytes.len(), out);
    out.extend_from_slice(&bytes);
    Ok(())
}

/// Decodes what [`encode_serde`] wrote.
pub fn decode_serde<T: serde::de::DeserializeOwned>(input: &mut &[u8]) -> Result<T, ValueError> {
    let len = decode_len::<T>(input)?;
    let bytes = take::<T>(input, len)?;
    postcard::from_bytes(bytes).map_err(|e| ValueError::decode::<T>(e))
}
