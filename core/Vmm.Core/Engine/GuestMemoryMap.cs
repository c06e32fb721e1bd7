using Vmm.Abstractions;
using Vmm.Core.Machine;

namespace Vmm.Core.Engine;

/// <summary>
/// One VM's guest memory at a moment, as cells of <see cref="PagesPerCell"/> pages each (1 for VMs small enough);
/// a cell holds the most notable <see cref="GuestPageState"/> of its pages.
/// </summary>
public sealed record GuestMemoryMap(string Vm, long Pages, long PagesPerCell, GuestPageState[] Cells)
{
    /// <summary>Pages of a cell looked at, at most: a cell of a very large VM is sampled evenly, so a map costs a bounded number of walks.</summary>
    public const int MaxSamplesPerCell = 64;

    /// <summary>The map of every VM of <paramref name="kernel"/>, in declaration order, with at most <paramref name="maxCells"/> cells each.</summary>
    internal static IReadOnlyList<GuestMemoryMap> Of(HostKernel kernel, int maxCells)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxCells, 1);
        var maps = new List<GuestMemoryMap>(kernel.Kvm.VmList.Count);
        foreach (var vm in kernel.Kvm.VmList)
        {
            var pages = (long)vm.Pages;
            var perCell = Math.Max(1, (pages + maxCells - 1) / maxCells);
            var cells = new GuestPageState[(pages + perCell - 1) / perCell];
            var stride = (perCell + MaxSamplesPerCell - 1) / MaxSamplesPerCell;
            for (var c = 0; c < cells.Length; c++)
            {
                var first = c * perCell;
                var end = Math.Min(pages, first + perCell);
                var state = GuestPageState.Shared;
                for (var page = first; page < end && state != GuestPageState.Poisoned; page += stride)
                {
                    var here = StateOf(kernel, vm, (ulong)page);
                    if (here > state) state = here;
                }
                cells[c] = state;
            }
            maps.Add(new GuestMemoryMap(vm.Info.Name, pages, perCell, cells));
        }
        return maps;
    }

    private static GuestPageState StateOf(HostKernel kernel, Vm vm, ulong page)
    {
        var gfn = new Gfn(page);
        if (vm.Destroyed) return GuestPageState.UnmappedInVmm;
        var pfn = kernel.Kvm.FrameOf(vm.Info.Id, gfn);
        var flags = FrameFlags.None;
        if (pfn.IsValid)
        {
            const FrameFlags poison = FrameFlags.HwPoison | FrameFlags.PolicyPoison | FrameFlags.RealError;
            flags = kernel.Mm.Frames.Flags(pfn) | (kernel.Mm.Frames.Flags(kernel.Mm.Head(pfn)) & poison);
            // A policy's poison (hwpoison-v1/v2) is how it keeps a private page from the host: that page shows as private.
            var policyOnly = (flags & (FrameFlags.PolicyPoison | FrameFlags.RealError)) == FrameFlags.PolicyPoison;
            if ((flags & FrameFlags.HwPoison) != 0 && !policyOnly) return GuestPageState.Poisoned;
            var owner = OwnerOf(kernel, pfn);
            if (!owner.IsNone && owner != vm.Info.Id) return GuestPageState.OtherVm;
        }
        if (vm.IsPrivate(gfn) || (flags & FrameFlags.Private) != 0) return GuestPageState.Private;
        var size = MappingSize.Size4K;
        var entry = kernel.Vmm.Alive ? kernel.Vmm.PageTable.Lookup(vm.Info.HvaBase.Value + (page << PageGeometry.PageShift), out size) : PteValue.None;
        if (!entry.IsPresent) return GuestPageState.UnmappedInVmm;
        return size == MappingSize.Size2M ? GuestPageState.HugeMapped : GuestPageState.Shared;
    }

    /// <summary>The VM a valid frame belongs to: a guest_memfd page belongs to the VM its file is bound to (P-guest-memfd), any other frame to its recorded owner.</summary>
    internal static VmId OwnerOf(HostKernel kernel, Pfn pfn) =>
        kernel.FileById(kernel.Mm.Frames.FileId(pfn)) is { Kind: BackingKind.GuestMemfd } gmem ? gmem.Vm : kernel.Mm.Frames.Owner(pfn);
}
