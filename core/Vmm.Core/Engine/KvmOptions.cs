using Vmm.Abstractions;

namespace Vmm.Core.Engine;

/// <summary>KVM's own switches, bound from `options` keys "kvm.*" (docs/huge-ept.md).</summary>
public sealed class KvmOptions
{
    public const string Section = "kvm";

    [Option("2 MiB EPT leaves (kvm_mmu_hugepage_adjust): a fault on memory the VMM maps with a 2 MiB leaf (THP, hugetlb) whose 2 MiB gfn range is inside the memslot and not of mixed attributes maps the whole huge page at once; private pages of a protected VM and guest_memfd VMs keep 4 KiB leaves. Off (the default) = every EPT leaf is 4 KiB, as before (docs/huge-ept.md).")]
    public bool HugeEpt { get; set; }
}
