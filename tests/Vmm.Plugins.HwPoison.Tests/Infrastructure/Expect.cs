using Vmm.Abstractions;

namespace Vmm.Plugins.HwPoison.Tests.Infrastructure;

/// <summary>Assertions on step outcomes that print the whole outcome when they fail.</summary>
internal static class Expect
{
    public static void Ok(Outcome outcome)
        => Assert.True(outcome.Kind == OutcomeKind.Ok, $"expected ok, got {outcome}");

    public static byte[] Data(Outcome outcome)
    {
        Assert.True(outcome.Kind == OutcomeKind.Ok && outcome.Data is not null, $"expected ok with data, got {outcome}");
        return outcome.Data!;
    }

    public static void Error(Errno errno, Outcome outcome)
        => Assert.True(outcome.Kind == OutcomeKind.Errno && outcome.Errno == errno, $"expected {errno}, got {outcome}");

    public static void SigBus(SigBusCode code, int lsb, Outcome outcome, ulong? address = null)
    {
        Assert.True(outcome.Kind == OutcomeKind.SigBus && outcome.SigBusCode == code && outcome.Lsb == lsb,
            $"expected SIGBUS {code} lsb {lsb}, got {outcome}");
        if (address is { } a) Assert.Equal(new Hva(a), outcome.Address);
    }
}
