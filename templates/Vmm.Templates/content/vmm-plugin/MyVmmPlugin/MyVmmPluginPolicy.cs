using Vmm.Abstractions;

namespace MyVmmPlugin;

/// <summary>
/// Maps a protected VM's memslot PROT_NONE in the VMM, so a VMM touch gets SIGBUS BUS_ADRERR and a GUP without
/// FOLL_KVM gets EFAULT, while KVM follows the entries with FOLL_KVM for the guest. The roles it does not implement
/// (conversion, hwpoison entries, frame lifecycle) keep the kernel's own behaviour.
/// </summary>
public sealed class MyVmmPluginPolicy : IPrivateMemoryPolicy, IVmmMappingPolicy, IGuestFaultPolicy
{
    public VmmProtection MapMemslot(VmmMapping mapping) => mapping.Vm.Protected ? VmmProtection.ProtNone : VmmProtection.ReadWrite;

    /// <summary>FOLL_KVM: KVM's own GUP may follow the PROT_NONE entries of a protected VM.</summary>
    public GupFlags KvmGupFlags(KvmAccess access) => access.Vm.Protected ? GupFlags.HwPoison | GupFlags.AllowPoisoned : GupFlags.HwPoison;
}
