//! What differs between the PostgreSQL versions we build for (15–18), each
//! behind one named helper so the rest of the crate has no version `cfg`s.

use pgrx::pg_sys;

/// The `index`th attribute of a tuple descriptor (0-based), like C's
/// `TupleDescAttr`. PostgreSQL 18 put an array of compact attributes before
/// the full ones, so `attrs` no longer exists there.
///
/// # Safety
/// `desc` must be a valid tuple descriptor and `index < (*desc).natts`; the
/// reference lives as long as the descriptor.
pub unsafe fn tuple_desc_attr<'a>(
    desc: pg_sys::TupleDesc,
    index: usize,
) -> &'a pg_sys::FormData_pg_attribute {
    #[cfg(not(feature = "pg18"))]
    {
        // SAFETY: per the contract; `attrs` is the flexible array of natts.
        unsafe { &*(*desc).attrs.as_ptr().add(index) }
    }
    #[cfg(feature = "pg18")]
    {
        // SAFETY: per the contract; on 18 the full attributes follow the
        // `natts` compact ones (TupleDescAttr in tupdesc.h does the same).
        unsafe {
            let natts = (*desc).natts as usize;
            let first = (*desc)
                .compact_attrs
                .as_ptr()
                .add(natts)
                .cast::<pg_sys::FormData_pg_attribute>();
            &*first.add(index)
        }
    }
}

/// Whether `role` may execute function `fn_oid` and use its schema
/// (`has_function_privilege` plus `has_schema_privilege(..., 'USAGE')`).
/// PostgreSQL 16 folded the per-kind ACL checks into `object_aclcheck`.
///
/// # Safety
/// `fn_oid` must be an existing function in schema `namespace`.
pub unsafe fn may_execute(fn_oid: pg_sys::Oid, namespace: pg_sys::Oid, role: pg_sys::Oid) -> bool {
    let ok = pg_sys::AclResult::ACLCHECK_OK;
    #[cfg(feature = "pg15")]
    {
        // SAFETY: per the contract; plain catalog lookups.
        unsafe {
            pg_sys::pg_proc_aclcheck(fn_oid, role, pg_sys::ACL_EXECUTE as pg_sys::AclMode) == ok
                && pg_sys::pg_namespace_aclcheck(
                    namespace,
                    role,
                    pg_sys::ACL_USAGE as pg_sys::AclMode,
                ) == ok
        }
    }
    #[cfg(not(feature = "pg15"))]
    {
        // SAFETY: per the contract; plain catalog lookups.
        unsafe {
            pg_sys::object_aclcheck(
                pg_sys::ProcedureRelationId,
                fn_oid,
                role,
                pg_sys::ACL_EXECUTE as pg_sys::AclMode,
            ) == ok
                && pg_sys::object_aclcheck(
                    pg_sys::NamespaceRelationId,
                    namespace,
                    role,
                    pg_sys::ACL_USAGE as pg_sys::AclMode,
                ) == ok
        }
    }
}
