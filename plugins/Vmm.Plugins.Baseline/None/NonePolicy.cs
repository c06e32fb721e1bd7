using Vmm.Abstractions;

namespace Vmm.Plugins.Baseline.None;

/// <summary>
/// P-none: the unmodified host. Private pages stay mapped in the VMM; every hook keeps the kernel's
/// default (it implements no policy role), so host reads, writes and kernel copies reach TD memory (H4, H5, H6, H7).
/// </summary>
public sealed class NonePolicy : IPrivateMemoryPolicy
{
}
