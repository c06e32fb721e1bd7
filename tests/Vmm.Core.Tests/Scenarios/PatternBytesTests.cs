using Vmm.Core.Scenarios;

namespace Vmm.Core.Tests.Scenarios;

public class PatternBytesTests
{
    [Theory]
    [InlineData(7L, "b402fba2eda8b765a12f4524")]
    [InlineData(1L, "97258eafb9ce2a10")]
    [InlineData(-0x61C8864680B583EBL, "7a48219ae2b3830d")]
    public void Generate_KnownSeeds_GiveTheDocumentedBytes(long seed, string hex)
    {
        Assert.Equal(Convert.FromHexString(hex), PatternBytes.Generate(seed, hex.Length / 2));
    }

    [Fact]
    public void Generate_LongerOutput_StartsWithTheShorterOne()
    {
        Assert.Equal(PatternBytes.Generate(3, 5), PatternBytes.Generate(3, 4096)[..5]);
    }

    [Fact]
    public void Generate_DifferentSeeds_DifferentBytes()
    {
        Assert.NotEqual(PatternBytes.Generate(1, 16), PatternBytes.Generate(2, 16));
    }
}
