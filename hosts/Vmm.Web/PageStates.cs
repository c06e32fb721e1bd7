using Vmm.Abstractions;

namespace Vmm.Web;

/// <summary>How the memory map names and draws each <see cref="GuestPageState"/>: one letter in the API's cell strings, a CSS class, a legend text.</summary>
public static class PageStates
{
    public sealed record Look(GuestPageState State, char Code, string Css, string Label);

    public static IReadOnlyList<Look> All { get; } =
    [
        new(GuestPageState.Shared, 's', "pg-shared", "shared, mapped by the VMM"),
        new(GuestPageState.HugeMapped, 'h', "pg-huge", "shared, mapped huge (2 MiB) by the VMM"),
        new(GuestPageState.UnmappedInVmm, 'u', "pg-unmapped", "shared, not mapped in the VMM"),
        new(GuestPageState.Private, 'p', "pg-private", "private to the guest"),
        new(GuestPageState.OtherVm, 'o', "pg-other", "frame owned by another VM"),
        new(GuestPageState.Poisoned, 'x', "pg-poisoned", "poisoned frame"),
    ];

    public static Look Of(GuestPageState state) => All[(int)state];

    /// <summary>One letter per cell ("sshpp…"), what the API and the page's script carry.</summary>
    public static string Codes(IReadOnlyList<GuestPageState> cells) => string.Create(cells.Count, cells, (span, states) =>
    {
        for (var i = 0; i < span.Length; i++) span[i] = All[(int)states[i]].Code;
    });
}
