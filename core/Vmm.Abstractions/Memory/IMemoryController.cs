namespace Vmm.Abstractions;

[Flags]
public enum AccessFlags : byte
{
    None = 0,
    /// <summary>A non-temporal store (MOVNTI), relevant to the TDX partial-write erratum.</summary>
    NonTemporal = 1,
    /// <summary>The mapping is uncached.</summary>
    Uncached = 2,
    /// <summary>The host maps the frame with a 2 MiB leaf (the RMP checks the mapping's page size, H17).</summary>
    HugeMapping = 4,
}

/// <summary>
/// One access by a requester to bytes within a single frame. <see cref="Gpa"/> is the guest physical address of a
/// <see cref="Requester.Guest"/> access (the RMP compares it with the page's entry, H15); other requesters leave it 0.
/// </summary>
public readonly record struct LineAccess(Pfn Pfn, int Offset, KeyId Key, Requester Requester, AccessFlags Flags = AccessFlags.None, Gpa Gpa = default);

public enum MemStatus : byte
{
    Ok,
    /// <summary>A poisoned line was loaded: a machine check follows.</summary>
    PoisonConsumed,
    /// <summary>A TD read failed its integrity check: the line is now poisoned and the TD is fatal.</summary>
    IntegrityFailure,
    /// <summary>The access was blocked by an ownership check (SEV-SNP RMP fault).</summary>
    AccessFault,
    /// <summary>A guest's private access found its page not validated or its RMP entry not matching (SEV-SNP #VC, H15-H16).</summary>
    ValidationFault,
}

/// <summary>
/// KVM gave a protected VM's private gfn a frame on its first private fault there (TDH.MEM.PAGE.AUG plus accept;
/// RMPUPDATE plus the guest's PVALIDATE). <see cref="HostLeaf"/> is the size of the VMM's mapping of the frame and
/// <see cref="RangePrivate"/> whether every gfn of its 2 MiB range is private: a controller may assign the whole
/// range at once when both allow it (H17).
/// </summary>
public readonly record struct GuestPageAssignment(VmId Vm, KeyId Key, Gfn Gfn, Pfn Pfn, MappingSize HostLeaf, bool RangePrivate);

public enum GuestPageAssigned : byte
{
    Refused,
    Page,
    HugeRange,
}

/// <summary>The guest itself changed the state of [First, First+Pages) (guest.convert: MapGPA, an SNP page state change).</summary>
public readonly record struct GuestPageStateChange(VmId Vm, KeyId Key, Gfn First, ulong Pages, bool ToPrivate);

/// <summary>Result of a controller access: status and, when not ok, the frame line (0..63) that failed.</summary>
public readonly record struct MemResult(MemStatus Status, int Line)
{
    public static readonly MemResult Ok = new(MemStatus.Ok, -1);
    public bool IsOk => Status == MemStatus.Ok;
}

/// <summary>
/// The memory controller: every load, store, DMA and re-initialisation of a line goes through it with the
/// requester and the KeyID in the physical address (docs/semantics.md table H). One per run: its constructor
/// takes what it uses of the machine from the run's services, the DRAM contents (<see cref="IPhysicalMemory"/>)
/// and the <see cref="ICostLedger"/>. Hot path: allocation-free.
/// </summary>
public interface IMemoryController
{
    /// <summary>Reads <paramref name="destination"/>.Length bytes at access.Offset; the range stays within the frame.</summary>
    MemResult Read(in LineAccess access, Span<byte> destination);

    /// <summary>Writes the bytes at access.Offset; the range stays within the frame.</summary>
    MemResult Write(in LineAccess access, ReadOnlySpan<byte> source);

    /// <summary>H10: re-initialise every line of the frame for a new owner with full-line writes of zeros; clears poison.</summary>
    void Reinitialize(Pfn pfn, KeyId newKey);

    /// <summary>A real uncorrectable error: poison one line (0..63).</summary>
    void PoisonLine(Pfn pfn, int line);

    /// <summary>A silent DRAM bit flip in one line (bit 0..511).</summary>
    void FlipBit(Pfn pfn, int line, int bit);

    bool IsLinePoisoned(Pfn pfn, int line);

    int PoisonedLineCount(Pfn pfn);

    /// <summary>The frame went back to the allocator: drop any per-line state kept for it.</summary>
    void OnFrameFreed(Pfn pfn);

    /// <summary>The private KeyID for a protected VM, or <see cref="KeyId.Shared"/> when the controller has none.</summary>
    KeyId AssignPrivateKey(VmId vm);

    /// <summary>
    /// KVM is about to take a frame as a protected VM's private page for the first time (before <see cref="Reinitialize"/>
    /// for its key): RMPUPDATE plus the guest's PVALIDATE. <see cref="GuestPageAssigned.Refused"/> when the hardware
    /// refuses (the RMP has the page assigned to another VM or gpa, or immutable): the guest fault fails with KVM_RUN
    /// EFAULT and nothing changed; <see cref="GuestPageAssigned.HugeRange"/> when the whole 2 MiB range was assigned,
    /// so KVM takes all 512 frames of it.
    /// </summary>
    GuestPageAssigned AssignGuestPage(in GuestPageAssignment assignment);

    /// <summary>The guest asked for a conversion: it rescinds validation before sharing and validates again after.</summary>
    void OnGuestPageStateChange(in GuestPageStateChange change);

    /// <summary>Whether the platform has a TDX module (SEAM) that touches memory with a TD's private KeyID; only then may a kernel op have requester "seam".</summary>
    bool HasSeam => false;
}
