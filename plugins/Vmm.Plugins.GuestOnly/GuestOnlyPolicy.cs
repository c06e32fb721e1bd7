using Vmm.Abstractions;

namespace Vmm.Plugins.GuestOnly;

/// <summary>
/// P-guest-only, Kirill Shutemov's "mm: Introduce guest-only pages" (20210521123148.a3t4uh4iezm6ax47@box, branch
/// kvm-unmapped-guest-only): the VMM mprotects a protected VM's shmem memslot PROT_GUEST (VM_GUEST); every fault
/// there sets PageGuest on the page and try_to_unmaps it, and the page is mapped with a PAGE_NONE entry, so VMM
/// loads and stores get SIGBUS, shmem read/write and any other mapping get EIO, and GUP fails unless KVM passes
/// FOLL_GUEST. Sharing is the VMM's: fresh anonymous memory over the range, as the series' QEMU patch did. PG_hwp
/// is never touched, so real memory errors stay what they are.
/// </summary>
[Requires(ProtectedBacking = "shmem")]
public sealed class GuestOnlyPolicy(IFrameMetadata frames, IUnmapService unmap, IVmmMemory memory, IKernelLog log)
    : IPrivateMemoryPolicy, IVmmMappingPolicy, IGuestFaultPolicy, IPageCachePolicy, IConversionPolicy
{
    /// <summary>QEMU: mprotect(PROT_GUEST | PROT_READ | PROT_WRITE) on every memslot of a protected VM.</summary>
    public VmmProtection MapMemslot(VmmMapping mapping)
    {
        var vm = mapping.Vm;
        if (!vm.Protected) return VmmProtection.ReadWrite;
        if (vm.Backing != BackingKind.Shmem)
            throw new ComponentOptionsException($"policy guest-only needs shmem memory for a protected VM (mprotect(PROT_GUEST) is EINVAL unless the VMA is MAP_SHARED shmem), but this VM's backing is {vm.Backing.ToString().ToLowerInvariant()}; set \"backing\": \"shmem\"");
        return VmmProtection.Guest;
    }

    /// <summary>FOLL_GUEST (0x100000, the same bit as FOLL_KVM and FOLL_ALLOW_POISONED): only KVM reaches guest-only pages.</summary>
    public GupFlags KvmGupFlags(KvmAccess access) => access.Vm.Protected ? GupFlags.HwPoison | GupFlags.AllowPoisoned : GupFlags.HwPoison;

    /// <summary>
    /// shmem_getpage_gfp with the series' checks: a fault in a VM_GUEST VMA makes the page guest-only (TestSetPageGuest,
    /// then try_to_unmap of every other mapping before this one is installed PAGE_NONE); any other lookup of a
    /// guest-only page is -EIO (read/write, or a fault through another mapping: VM_FAULT_SIGBUS).
    /// </summary>
    public Errno OnPageCacheLookup(PageCacheLookup lookup)
    {
        var pfn = lookup.Pfn;
        var isGuest = (frames.GetFlags(pfn) & FrameFlags.Guest) != 0;
        if (lookup.GuestVma)
        {
            if (isGuest) return 0;
            frames.SetFlags(pfn, FrameFlags.Guest | FrameFlags.Private);
            unmap.TryToUnmap(pfn, UnmapFlags.None);
            return 0;
        }
        return isGuest ? Errno.EIO : 0;
    }

    /// <summary>
    /// The series' QEMU patch: sharing maps fresh anonymous memory over the range (the guest-only page stays in the
    /// file, guest-only, until freed; its data is not carried over); going private maps the slot's shmem again with
    /// PROT_GUEST, and the anonymous copy is freed.
    /// </summary>
    public Outcome? OnConvert(Conversion conversion)
    {
        var (vm, gpa, size, toPrivate) = conversion;
        if (!vm.Protected) return null;
        var rc = toPrivate ? memory.MapBacking(vm.Id, gpa, size, guest: true) : memory.MapAnonymous(vm.Id, gpa, size);
        if (rc == 0) return null;
        log.Warn($"guest-only: the VMM could not remap {vm.Name}'s 0x{gpa.Value:x}+0x{size:x} as {(toPrivate ? "PROT_GUEST shmem" : "anonymous memory")}: {rc}");
        return Outcome.Error(rc);
    }
}
