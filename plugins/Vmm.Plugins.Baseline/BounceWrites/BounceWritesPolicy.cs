using Vmm.Abstractions;

namespace Vmm.Plugins.Baseline.BounceWrites;

/// <summary>
/// P-bounce-writes, Hildenbrand's alternative in the 2021 review (5e934d94-414c-90de-c58e-34456e4ab1cf@redhat.com): a
/// protected VM's memory is mapped PROT_READ in the VMM, and the VMM's stores to it go through a kernel write that
/// refuses pages the guest holds private, so a VMM store can never reach TD-private memory. Loads stay direct, and
/// GUP-based paths (/proc/pid/mem, process_vm_writev, KVM's copies) are unchanged: the proposal covers the VMM's own stores.
/// </summary>
public sealed class BounceWritesPolicy : IPrivateMemoryPolicy, IVmmMappingPolicy
{
    public VmmProtection MapMemslot(VmmMapping mapping) => mapping.Vm.Protected ? VmmProtection.ReadOnlyBounced : VmmProtection.ReadWrite;
}
