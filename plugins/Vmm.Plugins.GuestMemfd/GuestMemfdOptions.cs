using Vmm.Abstractions;

namespace Vmm.Plugins.GuestMemfd;

/// <summary>Options of guest-memfd, bound from `options` keys "guestMemfd.*".</summary>
public sealed class GuestMemfdOptions
{
    public const string Section = "guestMemfd";

    [Option("In-place shared/private conversion on the guest_memfd itself (Ackerley Tng's and Fuad Tabba's 2025 series, not merged): for a VM with gmemFlags MMAP a conversion keeps the page and unmaps the VMM's mappings of it when it goes private, instead of discarding the other side's copy.")]
    public bool InPlaceConversion { get; set; }
}
