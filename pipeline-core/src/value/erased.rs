//! [`ValueType`]: the type-erased operations of one [`Value`] type, one
//! pointer to a static table per type.

use super::*;

/// The type-erased operations of one [`Value`] type: what the graph, the executor
/// and the store use when they handle values they cannot name.
///
/// A `ValueType` is one pointer to a static table, so graphs of many nodes stay small.
#[derive(Clone, Copy)]
pub struct ValueType(pub(super) &'static VTable);

pub(super) struct VTable {
    pub(super) type_id: fn() -> TypeId,
    pub(super) full_name: fn() -> &'static str,
    pub(super) name: fn() -> String,
    pub(super) extension: fn() -> &'static str,
    pub(super) render: fn(&(dyn Any + Send + Sync)) -> Option<String>,
    pub(super) fingerprint: fn(&(dyn Any + Send + Sync)) -> Result<Fingerprint, ValueError>,
    pub(super) encode: fn(&(dyn Any + Send + Sync), &mut Vec<u8>) -> Result<(), ValueError>,
    pub(super) decode: fn(&[u8]) -> Result<ErasedValue, ValueError>,
    pub(super) materialize: MaterializeFn,
    pub(super) write_file: fn(&(dyn Any + Send + Sync), &Path) -> Result<(), ValueError>,
    pub(super) read_file: fn(&Path) -> Result<ErasedValue, ValueError>,
    pub(super) references: fn(&(dyn Any + Send + Sync)) -> Vec<Fingerprint>,
    pub(super) decode_stored: fn(&[u8], &StoreContext<'_>) -> Result<ErasedValue, ValueError>,
    pub(super) read_stored_file: fn(&Path, &StoreContext<'_>) -> Result<ErasedValue, ValueError>,
    pub(super) schema: fn() -> Result<Fingerprint, ValueError>,
    pub(super) names_files: fn() -> bool,
    pub(super) external_files: ExternalFilesFn,
    pub(super) text: &'static text::TextOps,
    #[cfg(feature = "polars")]
    pub(super) as_lazy_frame: fn(&(dyn Any + Send + Sync)) -> Option<polars::prelude::LazyFrame>,
}

pub(super) type ExternalFilesFn = for<'a> fn(&'a (dyn Any + Send + Sync), &mut Vec<&'a Path>);

pub(super) type MaterializeFn = fn(
    Box<dyn Any + Send + Sync>,
    &MaterializeContext<'_>,
) -> Result<Materialized<ErasedValue>, ValueError>;

pub(super) fn downcast<T: Value>(value: &(dyn Any + Send + Sync)) -> &T {
    value.downcast_ref::<T>().unwrap_or_else(|| {
        panic!(
            "pipeline-core bug: a value of another type reached {}'s operations",
            std::any::type_name::<T>()
        )
    })
}

/// The erased operations of `T`, as plain generic functions.
pub(super) struct Erased<T>(PhantomData<T>);

impl<T: Value> Erased<T> {
    const VTABLE: &'static VTable = &VTable {
        type_id: TypeId::of::<T>,
        full_name: std::any::type_name::<T>,
        name: T::type_name,
        extension: T::extension,
        render: Self::render,
        fingerprint: Self::fingerprint,
        encode: Self::encode,
        decode: Self::decode,
        materialize: Self::materialize,
        write_file: Self::write_file,
        read_file: Self::read_file,
        references: Self::references,
        decode_stored: Self::decode_stored,
        read_stored_file: Self::read_stored_file,
        schema: T::schema,
        names_files: T::names_files,
        external_files: Self::external_files,
        text: text::TextForms::<T>::OPS,
        #[cfg(feature = "polars")]
        as_lazy_frame: Self::as_lazy_frame,
    };

    fn external_files<'a>(value: &'a (dyn Any + Send + Sync), out: &mut Vec<&'a Path>) {
        downcast::<T>(value).external_files(out)
    }

    #[cfg(feature = "polars")]
    fn as_lazy_frame(value: &(dyn Any + Send + Sync)) -> Option<polars::prelude::LazyFrame> {
        downcast::<T>(value).as_lazy_frame()
    }

    fn fingerprint(value: &(dyn Any + Send + Sync)) -> Result<Fingerprint, ValueError> {
        downcast::<T>(value).fingerprint()
    }

    fn render(value: &(dyn Any + Send + Sync)) -> Option<String> {
        downcast::<T>(value).render()
    }

    fn encode(value: &(dyn Any + Send + Sync), out: &mut Vec<u8>) -> Result<(), ValueError> {
        downcast::<T>(value).encode(out)
    }

    fn decode(bytes: &[u8]) -> Result<ErasedValue, ValueError> {
        let mut input = bytes;
        let value = T::decode(&mut input)?;
        Self::complete(value, input)
    }

    fn decode_stored(bytes: &[u8], ctx: &StoreContext<'_>) -> Result<ErasedValue, ValueError> {
        let mut input = bytes;
        let value = T::decode_stored(&mut input, ctx)?;
        Self::complete(value, input)
    }

    fn complete(value: T, rest: &[u8]) -> Result<ErasedValue, ValueError> {
        if !rest.is_empty() {
            return Err(ValueError::decode::<T>(format!(
                "{} trailing bytes",
                rest.len()
            )));
        }
        Ok(Arc::new(value) as ErasedValue)
    }

    fn references(value: &(dyn Any + Send + Sync)) -> Vec<Fingerprint> {
        downcast::<T>(value).references()
    }

    fn read_stored_file(path: &Path, ctx: &StoreContext<'_>) -> Result<ErasedValue, ValueError> {
        Ok(Arc::new(T::read_stored_file(path, ctx)?) as ErasedValue)
    }

    fn materialize(
        boxed: Box<dyn Any + Send + Sync>,
        ctx: &MaterializeContext<'_>,
    ) -> Result<Materialized<ErasedValue>, ValueError> {
        let value = *boxed.downcast::<T>().unwrap_or_else(|_| {
            panic!(
                "pipeline-core bug: a task output of another type reached {}'s operations",
                std::any::type_name::<T>()
            )
        });
        let done = value.materialize(ctx)?;
        Ok(Materialized {
            value: Arc::new(done.value) as ErasedValue,
            fingerprint: done.fingerprint,
            file: done.file,
        })
    }

    fn write_file(value: &(dyn Any + Send + Sync), path: &Path) -> Result<(), ValueError> {
        downcast::<T>(value).write_file(path)
    }

    fn read_file(path: &Path) -> Result<ErasedValue, ValueError> {
        Ok(Arc::new(T::read_file(path)?) as ErasedValue)
    }
}

impl ValueType {
    /// The operations of `T`.
    pub fn of<T: Value>() -> Self {
        Self(Erased::<T>::VTABLE)
    }

    /// The Rust `TypeId` of the value type.
    pub fn type_id(&self) -> TypeId {
        (self.0.type_id)()
    }

    /// The type's name as people write it (`f64`, `Vec<String>`).
    pub fn name(&self) -> String {
        (self.0.name)()
    }

    /// The fully qualified name from `std::any::type_name`.
    pub fn full_name(&self) -> &'static str {
        (self.0.full_name)()
    }

    /// The extension of the type's files in a store.
    pub fn extension(&self) -> &'static str {
        (self.0.extension)()
    }

    /// A rendering of an erased value of this type for people (see [`Value::render`]).
    ///
    /// # Panics
    /// If `value` is not of this type.
    pub fn render(&self, value: &(dyn Any + Send + Sync)) -> Option<String> {
        (self.0.render)(value)
    }

    /// An erased value of this type as a polars lazy frame, for tables (see
    /// [`Value::as_lazy_frame`]).
    ///
    /// # Panics
    /// If `value` is not of this type.
    #[cfg(feature = "polars")]
    pub fn as_lazy_frame(
        &self,
        value: &(dyn Any + Send + Sync),
    ) -> Option<polars::prelude::LazyFrame> {
        (self.0.as_lazy_frame)(value)
    }

    /// Whether `value` holds this type.
    pub fn holds(&self, value: &(dyn Any + Send + Sync)) -> bool {
        value.type_id() == self.type_id()
    }

    /// The fingerprint of an erased value of this type.
    ///
    /// # Panics
    /// If `value` is not of this type.
    pub fn fingerprint(&self, value: &(dyn Any + Send + Sync)) -> Result<Fingerprint, ValueError> {
        (self.0.fingerprint)(value)
    }

    /// Appends the canonical encoding of an erased value of this type.
    ///
    /// # Panics
    /// If `value` is not of this type.
    pub fn encode(
        &self,
        value: &(dyn Any + Send + Sync),
        out: &mut Vec<u8>,
    ) -> Result<(), ValueError> {
        (self.0.encode)(value, out)
    }

    /// Decodes a complete encoding into a shareable value.
    pub fn decode(&self, bytes: &[u8]) -> Result<ErasedValue, ValueError> {
        (self.0.decode)(bytes)
    }

    /// Materializes a freshly produced value (see [`Value::materialize`]).
    ///
    /// # Panics
    /// If `value` is not of this type.
    pub fn materialize(
        &self,
        value: Box<dyn Any + Send + Sync>,
        ctx: &MaterializeContext<'_>,
    ) -> Result<Materialized<ErasedValue>, ValueError> {
        (self.0.materialize)(value, ctx)
    }

    /// Writes an erased value of this type to a file.
    ///
    /// # Panics
    /// If `value` is not of this type.
    pub fn write_file(
        &self,
        value: &(dyn Any + Send + Sync),
        path: &Path,
    ) -> Result<(), ValueError> {
        (self.0.write_file)(value, path)
    }

    /// Reads a value of this type from a file.
    pub fn read_file(&self, path: &Path) -> Result<ErasedValue, ValueError> {
        (self.0.read_file)(path)
    }

    /// The stored values an erased value of this type names (see
    /// [`Value::references`]).
    ///
    /// # Panics
    /// If `value` is not of this type.
    pub fn references(&self, value: &(dyn Any + Send + Sync)) -> Vec<Fingerprint> {
        (self.0.references)(value)
    }

    /// Decodes a complete encoding a store held (see [`Value::decode_stored`]).
    pub fn decode_stored(
        &self,
        bytes: &[u8],
        ctx: &StoreContext<'_>,
    ) -> Result<ErasedValue, ValueError> {
        (self.0.decode_stored)(bytes, ctx)
    }

    /// Reads a value of this type from its file in a store (see
    /// [`Value::read_stored_file`]).
    pub fn read_stored_file(
        &self,
        path: &Path,
        ctx: &StoreContext<'_>,
    ) -> Result<ErasedValue, ValueError> {
        (self.0.read_stored_file)(path, ctx)
    }
}

impl ValueType {
    /// The fingerprint of the type's encoding layout (see [`Value::schema`]),
    /// computed once per type and process.
    pub fn schema(&self) -> Result<Fingerprint, ValueError> {
        crate::schema::cached(self.type_id(), self.0.schema)
    }

    /// Whether values of this type may name external files (see
    /// [`Value::names_files`]).
    pub fn names_files(&self) -> bool {
        (self.0.names_files)()
    }

    /// The external files an erased value of this type names (see
    /// [`Value::external_files`]).
    ///
    /// # Panics
    /// If `value` is not of this type.
    pub fn external_files<'a>(&self, value: &'a (dyn Any + Send + Sync)) -> Vec<&'a Path> {
        let mut out = Vec::new();
        (self.0.external_files)(value, &mut out);
        out
    }
}

impl PartialEq for ValueType {
    fn eq(&self, other: &Self) -> bool {
        self.type_id() == other.type_id()
    }
}

impl Eq for ValueType {}

impl fmt::Debug for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}
