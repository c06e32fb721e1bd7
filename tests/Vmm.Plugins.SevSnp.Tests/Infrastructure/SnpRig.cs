using Vmm.Abstractions;
using Vmm.Core.Costs;
using Vmm.Core.Machine;
using Vmm.Plugins.SevSnp.Rmp;

namespace Vmm.Plugins.SevSnp.Tests.Infrastructure;

/// <summary>
/// One sev-snp controller on real DRAM contents and a real ledger, with the ASID of VM 0 and short-hands for the
/// accesses of table H. Frames are assigned at gfn = pfn, as if the memslot mapped guest memory one to one.
/// </summary>
internal sealed class SnpRig
{
    public SnpRig(long frames = 4096)
    {
        Physical = new PhysicalMemory(frames);
        Controller = new SevSnpMemoryController(Physical, Ledger);
        Key = Controller.AssignPrivateKey(new VmId(0));
    }

    public PhysicalMemory Physical { get; }
    public CostLedger Ledger { get; } = new();
    public SevSnpMemoryController Controller { get; }
    public KeyId Key { get; }

    /// <summary>KVM's first private fault: RMPUPDATE + PVALIDATE, then the page is initialised for the guest.</summary>
    public GuestPageAssigned Assign(ulong pfn, MappingSize hostLeaf = MappingSize.Size4K, bool rangePrivate = false, ulong? gfn = null, KeyId? key = null, int vm = 0)
    {
        var assigned = Controller.AssignGuestPage(new GuestPageAssignment(new VmId(vm), key ?? Key, new Gfn(gfn ?? pfn), new Pfn(pfn), hostLeaf, rangePrivate));
        if (assigned == GuestPageAssigned.Page) Controller.Reinitialize(new Pfn(pfn), key ?? Key);
        if (assigned == GuestPageAssigned.HugeRange)
            for (var i = 0UL; i < (ulong)PageGeometry.PagesPerHuge; i++) Controller.Reinitialize(new Pfn((pfn & ~511UL) + i), key ?? Key);
        return assigned;
    }

    /// <summary>The guest converts one page to shared; KVM reclaims it (RMPUPDATE back to the hypervisor).</summary>
    public void ConvertToShared(ulong pfn, ulong? gfn = null)
    {
        Controller.OnGuestPageStateChange(new GuestPageStateChange(new VmId(0), Key, new Gfn(gfn ?? pfn), 1, ToPrivate: false));
        Controller.Reinitialize(new Pfn(pfn), KeyId.Shared);
    }

    /// <summary>The host frees the frame behind the guest's back (MADV_DONTNEED, punch hole): as the core frees it.</summary>
    public void Free(ulong pfn)
    {
        Controller.OnFrameFreed(new Pfn(pfn));
        Physical.Discard(new Pfn(pfn));
    }

    public MemResult GuestWrite(ulong pfn, int offset, ReadOnlySpan<byte> data, ulong? gfn = null)
        => Controller.Write(new LineAccess(new Pfn(pfn), offset, Key, Requester.Guest, Gpa: new Gpa((gfn ?? pfn) << PageGeometry.PageShift)), data);

    public MemResult GuestRead(ulong pfn, int offset, Span<byte> destination, ulong? gfn = null)
        => Controller.Read(new LineAccess(new Pfn(pfn), offset, Key, Requester.Guest, Gpa: new Gpa((gfn ?? pfn) << PageGeometry.PageShift)), destination);

    public MemResult HostWrite(ulong pfn, int offset, ReadOnlySpan<byte> data, Requester requester = Requester.HostUser, AccessFlags flags = AccessFlags.None)
        => Controller.Write(new LineAccess(new Pfn(pfn), offset, KeyId.Shared, requester, flags), data);

    public MemResult HostRead(ulong pfn, int offset, Span<byte> destination, Requester requester = Requester.HostUser)
        => Controller.Read(new LineAccess(new Pfn(pfn), offset, KeyId.Shared, requester), destination);

    /// <summary>Bytes that differ per seed and contain no zero byte.</summary>
    public static byte[] Data(int seed, int length = 16)
    {
        var bytes = new byte[length];
        for (var i = 0; i < bytes.Length; i++) bytes[i] = (byte)(1 + (seed * 37 + i * 11) % 255);
        return bytes;
    }
}
