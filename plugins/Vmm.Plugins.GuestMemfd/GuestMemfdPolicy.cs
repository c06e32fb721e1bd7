using Vmm.Abstractions;

namespace Vmm.Plugins.GuestMemfd;

/// <summary>
/// P-guest-memfd (virt/kvm/guest_memfd.c, merged for 6.8 with commit a7800aa80ea4): a protected VM's private
/// memory is a guest_memfd bound to it, which the VMM never maps; its shared memory is the memslot's hva. KVM
/// picks the side per gfn from KVM_MEMORY_ATTRIBUTE_PRIVATE, and an access whose private/shared-ness differs from
/// the attribute exits to the VMM with MEMORY_FAULT. The VMM (as QEMU does) answers a conversion by setting the
/// attributes and discarding the other side's copy. The kernel's guest_memfd rules (read/write EINVAL, mmap,
/// fallocate, punch hole, memory failure) are the core's, since they hold whatever VMM uses the file.
/// </summary>
[Requires(ProtectedBacking = "guest-memfd", MinimumKernel = "6.8")]
public sealed class GuestMemfdPolicy(GuestMemfdOptions options, IVmmMemory memory, IKernelLog log)
    : IPrivateMemoryPolicy, IVmmMappingPolicy, IGuestMemorySourcePolicy, IConversionPolicy
{
    private readonly HashSet<int> _warnedInPlace = [];

    public GuestMemfdOptions Options { get; } = options;

    /// <summary>The VMM creates a protected VM's memslot with a guest_memfd (KVM_SET_USER_MEMORY_REGION2, KVM_MEM_GUEST_MEMFD).</summary>
    public VmmProtection MapMemslot(VmmMapping mapping)
    {
        var vm = mapping.Vm;
        if (vm.Protected && vm.Backing != BackingKind.GuestMemfd)
            throw new ComponentOptionsException($"policy guest-memfd keeps a protected VM's private memory in a guest_memfd, but this VM's backing is {vm.Backing.ToString().ToLowerInvariant()}; set \"backing\": \"guest-memfd\"");
        return VmmProtection.ReadWrite;
    }

    /// <summary>kvm_mmu_faultin_pfn: a mismatch is a MEMORY_FAULT exit; private faults (every fault of a GMEM_ONLY slot) use the guest_memfd.</summary>
    public GuestMemorySource SourceOf(GuestAccess access)
    {
        if (!access.HasGuestMemfd) return GuestMemorySource.VmmMapping;
        if (access.Private != access.AttributePrivate) return GuestMemorySource.MemoryFault;
        return access.Private || access.GuestMemfdOnly ? GuestMemorySource.GuestMemfd : GuestMemorySource.VmmMapping;
    }

    /// <summary>
    /// The VMM's handling of the guest's request (KVM_HC_MAP_GPA_RANGE exit, or a MEMORY_FAULT exit it treats as
    /// one): the kernel then sets the attributes; first the side that is given up is discarded, as QEMU's
    /// ram_block_discard_range does: the guest_memfd's pages are punched out when the range goes shared, the
    /// shared memfd's when it goes private. So no data survives a round trip.
    /// </summary>
    public Outcome? OnConvert(Conversion conversion)
    {
        var (vm, gpa, size, toPrivate) = conversion;
        if (!vm.Protected || vm.Backing != BackingKind.GuestMemfd) return null;
        if (Options.InPlaceConversion && vm.GuestMemfdMappable)
        {
            // In place: the folio stays; going private it must leave every VMM page table first.
            if (toPrivate) memory.UnmapMappingRange(vm.Id, VmFile.GuestMemfd, gpa, size);
            return null;
        }
        if (Options.InPlaceConversion && _warnedInPlace.Add(vm.Id.Value))
            log.Warn($"guest-memfd: guestMemfd.inPlaceConversion needs a guest_memfd with gmemFlags MMAP (its shared memory is then in the file); {vm.Name} has none, so its conversions discard as usual");
        var rc = memory.PunchHole(vm.Id, toPrivate ? VmFile.Backing : VmFile.GuestMemfd, gpa, size);
        if (rc == 0) return null;
        log.Warn($"guest-memfd: the VMM could not discard {vm.Name}'s {(toPrivate ? "shared" : "private")} copy of 0x{gpa.Value:x}+0x{size:x}: {rc}");
        return Outcome.Error(rc);
    }
}
