using Vmm.Abstractions;

namespace Vmm.Plugins.Baseline.ProtNone;

/// <summary>
/// P-prot-none, the 2020 "KVM protected memory extension" (VM_KVM_PROTECTED): a protected VM's memory
/// is mapped PROT_NONE in the VMM, so VMM touches get SIGBUS BUS_ADRERR and GUP without FOLL_KVM gets
/// EFAULT; KVM follows the PROT_NONE entries with FOLL_KVM. Sharing works on whole VMAs only.
/// </summary>
public sealed class ProtNonePolicy(IVmmControl vmm, IKernelLog log) : IPrivateMemoryPolicy, IVmmMappingPolicy, IGuestFaultPolicy, IConversionPolicy
{
    public VmmProtection MapMemslot(VmmMapping mapping) => mapping.Vm.Protected ? VmmProtection.ProtNone : VmmProtection.ReadWrite;

    /// <summary>FOLL_KVM: the same bit as the 2021 FOLL_ALLOW_POISONED.</summary>
    public GupFlags KvmGupFlags(KvmAccess access) => access.Vm.Protected ? GupFlags.HwPoison | GupFlags.AllowPoisoned : GupFlags.HwPoison;

    public Outcome? OnConvert(Conversion conversion)
    {
        var (vm, gpa, size, toPrivate) = conversion;
        if (!vm.Protected) return null;
        // KVM_HC_MEM_SHARE / UNSHARE change the protection of the whole VMA: a partial range cannot be expressed.
        if (gpa.Value != 0 || size < vm.MemoryBytes)
        {
            log.Warn($"prot-none: {vm.Name} asked to make 0x{gpa.Value:x}+0x{size:x} {(toPrivate ? "private" : "shared")}; only the whole memslot can change (VMA granularity)");
            return Outcome.Error(Errno.EINVAL);
        }
        vmm.SetMemslotProtNone(vm.Id, toPrivate);
        return null;
    }
}
