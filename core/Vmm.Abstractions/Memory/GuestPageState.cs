namespace Vmm.Abstractions;

/// <summary>
/// What one guest page is, as a memory map shows it. Ordered from least to most notable: a page takes the most
/// notable state that applies, and a cell of several pages the most notable state of its pages.
/// </summary>
public enum GuestPageState : byte
{
    /// <summary>Shared with the host and mapped by the VMM with a 4 KiB leaf.</summary>
    Shared,

    /// <summary>Shared and mapped by the VMM with a 2 MiB leaf.</summary>
    HugeMapped,

    /// <summary>Shared, but the VMM has no present mapping of it (never touched, zapped, or PROT_NONE).</summary>
    UnmappedInVmm,

    /// <summary>Private to the guest (a protected VM's page not converted to shared), whatever the VMM maps.</summary>
    Private,

    /// <summary>The frame behind the page belongs to another VM.</summary>
    OtherVm,

    /// <summary>
    /// The frame behind the page is poisoned by a memory error or MADV_HWPOISON; the poison a private-memory policy sets
    /// to keep a private page from the host (hwpoison-v1/v2) shows as <see cref="Private"/>.
    /// </summary>
    Poisoned,
}
